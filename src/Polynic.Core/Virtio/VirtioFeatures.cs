namespace Polynic.Core.Virtio;

/// <summary>
/// Device-independent feature bits (virtio 1.2, section 6 "Reserved Feature Bits"). Device types
/// define theirs below bit 24; a device offers the union of both.
/// </summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_INDIRECT_DESC (28): descriptors may point at a table of descriptors.</summary>
    public const ulong IndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_F_EVENT_IDX (29): used_event / avail_event suppress notifications both ways.</summary>
    public const ulong EventIndex = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (32): a virtio 1.x device (little-endian, modern transport).</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>VIRTIO_F_RING_RESET (40): a single queue can be reset through queue_reset.</summary>
    public const ulong RingReset = 1UL << 40;
}

/// <summary>Device status bits (virtio 1.2, 2.1).</summary>
[Flags]
public enum VirtioStatus : byte
{
    /// <summary>Reset state.</summary>
    None = 0,
    /// <summary>The guest found the device.</summary>
    Acknowledge = 1,
    /// <summary>The guest has a driver for it.</summary>
    Driver = 2,
    /// <summary>The driver is set up and ready.</summary>
    DriverOk = 4,
    /// <summary>Feature negotiation is complete.</summary>
    FeaturesOk = 8,
    /// <summary>The device hit an error it cannot recover from without a reset.</summary>
    DeviceNeedsReset = 64,
    /// <summary>The guest gave up on the device.</summary>
    Failed = 128,
}
