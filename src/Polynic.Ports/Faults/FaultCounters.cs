namespace Polynic.Ports.Faults;

/// <summary>
/// Faults a <see cref="FaultInjectionPort"/> applied, per direction. Plain monotonically
/// increasing numbers, read without locks.
/// </summary>
public sealed class FaultCounters
{
    /// <summary>Frames the NIC sent.</summary>
    public DirectionFaultCounters Outbound { get; } = new();

    /// <summary>Frames delivered towards the NIC.</summary>
    public DirectionFaultCounters Inbound { get; } = new();

    /// <summary>Link changes reported to the NIC (down and up), forced or passed on from the inner port.</summary>
    public long LinkTransitions => Volatile.Read(ref _linkTransitions);

    private long _linkTransitions;

    internal void CountLinkTransition() => Interlocked.Increment(ref _linkTransitions);

    /// <inheritdoc/>
    public override string ToString() => $"outbound: {Outbound}; inbound: {Inbound}; {LinkTransitions} link transitions";
}

/// <summary>Fault counts of one direction.</summary>
public sealed class DirectionFaultCounters
{
    private long _dropped;
    private long _corrupted;
    private long _delayed;
    private long _queueFull;
    private long _linkDown;

    /// <summary>Frames lost on purpose (<see cref="DirectionFaults.DropProbability"/>).</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Frames passed on with one byte changed.</summary>
    public long Corrupted => Volatile.Read(ref _corrupted);

    /// <summary>Frames that went through the delay queue.</summary>
    public long Delayed => Volatile.Read(ref _delayed);

    /// <summary>Frames lost because the delay queue was full (frames or bytes).</summary>
    public long QueueFull => Volatile.Read(ref _queueFull);

    /// <summary>Frames refused or dropped because the link was forced down.</summary>
    public long LinkDown => Volatile.Read(ref _linkDown);

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void CountCorrupted() => Interlocked.Increment(ref _corrupted);

    internal void CountDelayed() => Interlocked.Increment(ref _delayed);

    internal void CountQueueFull() => Interlocked.Increment(ref _queueFull);

    internal void CountLinkDown() => Interlocked.Increment(ref _linkDown);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Dropped} dropped, {Corrupted} corrupted, {Delayed} delayed, {QueueFull} queue full, {LinkDown} link down";
}
