namespace Polynic.Core.Nic;

/// <summary>
/// Where a NIC's frames go and come from: the seed's "high-level API" of the host NIC
/// driver. Implementations (tap, QEMU-compatible sockets, a switch port, capture, fault
/// injection) live in Polynic.Ports; the NIC core only sends frames and receives callbacks.
/// </summary>
/// <remarks>
/// A port delivers received frames by calling <see cref="IPortReceiver.Receive"/> on a thread
/// of its own, one frame at a time; the span is valid only during the call. A port never throws
/// into the NIC: a failed send is counted and reported by the return value.
/// </remarks>
public interface IPort : IDisposable
{
    /// <summary>Name for logs and counters, e.g. "tap:pn0".</summary>
    string Name { get; }

    /// <summary>Whether the port can carry frames now (a tap that was deleted, a peer that left: false).</summary>
    bool LinkUp { get; }

    /// <summary>Offloads the port accepts on <see cref="Send(ReadOnlySpan{byte}, in FrameOffload)"/>.</summary>
    PortCapabilities Capabilities { get; }

    /// <summary>Starts delivering received frames and link changes to <paramref name="receiver"/>.</summary>
    void Start(IPortReceiver receiver);

    /// <summary>
    /// Sends one Ethernet frame (destination MAC first, no FCS). Returns false if the frame was
    /// dropped (link down, queue full, error); the port counts why.
    /// </summary>
    bool Send(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Sends one frame whose checksum and/or segmentation is still to be done, as described by
    /// <paramref name="offload"/>. Only call with offloads listed in <see cref="Capabilities"/>.
    /// </summary>
    bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload);
}

/// <summary>Callbacks from a port to the NIC it serves.</summary>
public interface IPortReceiver
{
    /// <summary>A frame arrived (destination MAC first, no FCS). The span is valid only during the call.</summary>
    void Receive(ReadOnlySpan<byte> frame);

    /// <summary>The port's link went up or down.</summary>
    void LinkChanged(bool up);
}

/// <summary>Offloads a port can perform on frames sent to it.</summary>
[Flags]
public enum PortCapabilities
{
    /// <summary>Complete frames only.</summary>
    None = 0,

    /// <summary>Partial checksums (<see cref="FrameOffload.NeedsChecksum"/>) are completed by the port or its peer.</summary>
    Checksum = 1,

    /// <summary>TCP segmentation (<see cref="FrameOffload.GsoType"/> TCPv4/TCPv6) is done by the port or its peer.</summary>
    Segmentation = 2,
}

/// <summary>Kind of segmentation a frame still needs (the virtio-net header's gso_type values).</summary>
public enum GsoType : byte
{
    /// <summary>No segmentation.</summary>
    None = 0,
    /// <summary>TCP over IPv4.</summary>
    TcpV4 = 1,
    /// <summary>UDP fragmentation offload.</summary>
    Udp = 3,
    /// <summary>TCP over IPv6.</summary>
    TcpV6 = 4,
}

/// <summary>
/// Work left to do on a frame, in the virtio-net header's terms (virtio 1.2, 5.1.6): a partial
/// checksum to finish at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/>, and/or
/// segmentation into <see cref="SegmentSize"/>-byte payloads.
/// </summary>
public readonly record struct FrameOffload(
    bool NeedsChecksum,
    ushort ChecksumStart,
    ushort ChecksumOffset,
    GsoType GsoType,
    ushort HeaderLength,
    ushort SegmentSize);
