namespace Polynic.Ports.Tap;

/// <summary>How <see cref="TapPort.Open"/> sets up its Linux TAP interface.</summary>
public sealed record TapPortOptions
{
    /// <summary>
    /// Interface name, 1 to 15 bytes (IFNAMSIZ). If no interface of that name exists, one is
    /// created and removed again when the port is disposed; if a persistent tap of that name exists
    /// (e.g. made by <c>ip tuntap add mode tap</c>), the port attaches to it and leaves it in place.
    /// A kernel pattern such as "pn%d" picks the first free number; <see cref="TapPort.InterfaceName"/>
    /// then holds the chosen name.
    /// </summary>
    public required string InterfaceName { get; init; }

    /// <summary>
    /// Exchange a 12-byte virtio-net header with the kernel (IFF_VNET_HDR), which lets
    /// <see cref="TapPort.Send(ReadOnlySpan{byte}, in Polynic.Core.Nic.FrameOffload)"/> pass partial
    /// checksums and TCP segmentation to the kernel: the port then reports
    /// <see cref="Polynic.Core.Nic.PortCapabilities.Checksum"/> and
    /// <see cref="Polynic.Core.Nic.PortCapabilities.Segmentation"/>. Off: complete frames only.
    /// </summary>
    public bool VnetHeader { get; init; }

    /// <summary>
    /// Set the interface administratively up (SIOCSIFFLAGS) in the caller's network namespace.
    /// Leave false when the caller configures the interface itself (moves it to another namespace,
    /// adds it to a bridge, ...).
    /// </summary>
    public bool BringUp { get; init; }
}
