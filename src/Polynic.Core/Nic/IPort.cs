namespace Polynic.Core.Nic;

/// <summary>
/// Where a NIC's frames go and come from: the seed's "high-level API" of the host NIC
/// driver. Implementations (tap, QEMU-compatible sockets, a switch port, capture, fault
/// injection) live in Polynic.Ports; the NIC core only sends frames and receives callbacks.
/// </summary>
/// <remarks>
/// A port delivers received frames by calling <see cref="IPortReceiver.Receive(ReadOnlySpan{byte})"/>
/// (complete frames) or <see cref="IPortReceiver.Receive(ReadOnlySpan{byte}, in FrameOffload)"/>
/// (a large GSO frame or a partial checksum, only with offloads in the receiver's
/// <see cref="IPortReceiver.ReceiveCapabilities"/>) on a thread of its own, one frame at a time;
/// the span is valid only during the call. A port never throws into the NIC: a failed send is
/// counted and reported by the return value.
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

    /// <summary>
    /// Offloads the receiver takes on <see cref="Receive(ReadOnlySpan{byte}, in FrameOffload)"/>:
    /// <see cref="PortCapabilities.Checksum"/> for frames whose checksum is still partial,
    /// <see cref="PortCapabilities.Segmentation"/> for TCPv4/TCPv6 GSO frames larger than the MTU.
    /// A port reads it once, in <see cref="IPort.Start"/>, to decide what it asks of its peer (a
    /// tap's TUNSETOFFLOAD); it delivers no other offload. None by default: complete frames only.
    /// </summary>
    PortCapabilities ReceiveCapabilities => PortCapabilities.None;

    /// <summary>
    /// A frame arrived with work left to do as <paramref name="offload"/> describes (a partial
    /// checksum, segmentation into <see cref="FrameOffload.SegmentSize"/>-byte payloads) or with
    /// <see cref="FrameOffload.DataValid"/> set. Ports call it only with offloads listed in
    /// <see cref="ReceiveCapabilities"/>; the description has been bounds-checked against the
    /// frame, but the frame's headers have not been parsed. The span is valid only during the call.
    /// </summary>
    /// <remarks>
    /// The default finishes the work in software (<see cref="Offload.ReceiveOffloadCompletion"/>)
    /// and hands the receiver complete frames through <see cref="Receive(ReadOnlySpan{byte})"/>.
    /// </remarks>
    void Receive(ReadOnlySpan<byte> frame, in FrameOffload offload) =>
        Offload.ReceiveOffloadCompletion.Deliver(this, frame, offload);

    /// <summary>The port's link went up or down.</summary>
    void LinkChanged(bool up);
}

/// <summary>
/// Offload work a party accepts to leave undone: a port on frames sent to it
/// (<see cref="IPort.Capabilities"/>), a NIC on frames it receives (<see cref="IPortReceiver.ReceiveCapabilities"/>).
/// </summary>
[Flags]
public enum PortCapabilities
{
    /// <summary>Complete frames only.</summary>
    None = 0,

    /// <summary>Partial checksums (<see cref="FrameOffload.NeedsChecksum"/>) are completed by the port or its peer (send), or by the NIC's guest (receive).</summary>
    Checksum = 1,

    /// <summary>TCP segmentation (<see cref="FrameOffload.GsoType"/> TCPv4/TCPv6 only) is done by the port or its peer (send), or the guest takes the large frame whole (receive).</summary>
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
    /// <summary>
    /// UDP segmentation into datagrams (VIRTIO_NET_HDR_GSO_UDP_L4, e1000 TSE with TUCMD.TCP clear).
    /// No port takes it (<see cref="PortCapabilities.Segmentation"/> is TCP only): the NIC core cuts it.
    /// </summary>
    UdpL4 = 5,
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
    ushort SegmentSize)
{
    /// <summary>
    /// Received frames only: the checksums were already verified (virtio-net
    /// VIRTIO_NET_HDR_F_DATA_VALID, 5.1.6.4), so a receiver that trusts it may skip checking them.
    /// It asks for no work, so a receiver that ignores it loses nothing.
    /// </summary>
    public bool DataValid { get; init; }

    /// <summary>Whether the frame still needs a checksum completed or segmentation (else it is a complete frame).</summary>
    public bool NeedsWork => NeedsChecksum || GsoType != GsoType.None;

    /// <summary>The capabilities a receiver or port needs to take this frame as it is.</summary>
    public PortCapabilities Requires =>
        (NeedsChecksum ? PortCapabilities.Checksum : PortCapabilities.None)
        | (GsoType != GsoType.None ? PortCapabilities.Segmentation : PortCapabilities.None);
}
