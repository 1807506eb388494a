using Polynic.Core.Nic;

namespace Polynic.Ports.Loopback;

/// <summary>Settings of a <see cref="PortPair"/>.</summary>
public sealed record PortPairOptions
{
    /// <summary>Prefix of the two ports' names: "{Name}:a" and "{Name}:b".</summary>
    public string Name { get; init; } = "loop";

    /// <summary>When and on which thread a frame reaches the other end. Default: <see cref="LoopbackDelivery.Inline"/>.</summary>
    public LoopbackDelivery Delivery { get; init; } = LoopbackDelivery.Inline;

    /// <summary>
    /// Offloads end A accepts. Offloaded frames are finished in software (checksum completed,
    /// TCP segmented) before B receives them, because a receiver only takes complete frames.
    /// </summary>
    public PortCapabilities CapabilitiesA { get; init; } = PortCapabilities.None;

    /// <summary>Offloads end B accepts; see <see cref="CapabilitiesA"/>.</summary>
    public PortCapabilities CapabilitiesB { get; init; } = PortCapabilities.None;

    /// <summary>Frames each end can hold for its worker with <see cref="LoopbackDelivery.Queued"/>.</summary>
    public int QueueCapacity { get; init; } = 256;
}
