namespace Polynic.Ports.Faults;

/// <summary>Settings of a <see cref="FaultInjectionPort"/> fixed at creation.</summary>
public sealed record FaultInjectionOptions
{
    /// <summary>
    /// Seed of the fault decisions. Each direction has its own generator derived from it, so a
    /// run with the same seed, settings and frames makes the same decisions in each direction
    /// whatever the other direction does.
    /// </summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Faults at start; change them later with <see cref="FaultInjectionPort.Settings"/>.</summary>
    public FaultSettings Settings { get; init; } = FaultSettings.None;

    /// <summary>Frames each direction's delay queue holds; a frame beyond it is dropped and counted. Default 1024.</summary>
    public int DelayQueueFrames { get; init; } = 1024;

    /// <summary>Bytes each direction's delay queue holds (allocated once). Default 1 MiB.</summary>
    public int DelayQueueBytes { get; init; } = 1 << 20;
}
