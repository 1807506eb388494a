using Polynic.Core.Nic.Filtering;

namespace Polynic.Core.Nic;

/// <summary>
/// The counters every NIC core keeps, as plain fields (Firecracker's metrics style): a device
/// increments them on its own thread(s) with <see cref="Interlocked"/> or plain <c>++</c> under its
/// lock, and management reads them ethtool-style through <see cref="Snapshot"/>.
/// </summary>
public sealed class NicCounters
{
    /// <summary>Frames the NIC transmitted: taken by the port, or looped back into its own receive path (MAC/PHY loopback).</summary>
    public long TxFrames;
    /// <summary>Bytes of the frames in <see cref="TxFrames"/>.</summary>
    public long TxBytes;
    /// <summary>Transmit attempts that failed for a reason inside the device (malformed descriptor chain, offload refused, checksum field outside the frame).</summary>
    public long TxErrors;
    /// <summary>Frames the port refused, or found no port or link for (each segment the core cut counts on its own).</summary>
    public long TxDropped;
    /// <summary>
    /// Segments the NIC's TSO/GSO frames yield, counted once per frame sent, whoever cuts them: the core
    /// (each segment then also one of <see cref="TxFrames"/> or <see cref="TxDropped"/>) or the port it
    /// handed the frame to whole (the frame then one of <see cref="TxFrames"/> or <see cref="TxDropped"/>).
    /// </summary>
    public long TxSegments;

    /// <summary>Frames delivered to the guest.</summary>
    public long RxFrames;
    /// <summary>Bytes of frames delivered to the guest.</summary>
    public long RxBytes;
    /// <summary>Delivered frames with the broadcast destination.</summary>
    public long RxBroadcast;
    /// <summary>Delivered frames with a group destination other than broadcast.</summary>
    public long RxMulticast;
    /// <summary>Frames dropped because the guest had no receive buffer (e1000 RNBC/MPC, RTL8139 RxMissed).</summary>
    public long RxNoBuffer;
    /// <summary>Frames the receive filter rejected (address or VLAN).</summary>
    public long RxFiltered;
    /// <summary>Frames longer than the device accepts.</summary>
    public long RxTooLong;
    /// <summary>Frames shorter than an Ethernet header.</summary>
    public long RxTooShort;
    /// <summary>Frames that arrived while the receiver was disabled.</summary>
    public long RxDisabled;
    /// <summary>GSO frames (larger than the MTU) handed to the guest whole, its driver doing the segmentation or coalescing.</summary>
    public long RxGsoFrames;
    /// <summary>
    /// Segments the core cut from received GSO frames for a guest that takes complete frames only and
    /// handed on (those that found no room before the frame's backpressure deadline count in <see cref="RxNoBuffer"/>).
    /// </summary>
    public long RxSegments;
    /// <summary>Received frames dropped because their offload description could not be honoured (bad headers, gso_size, checksum field).</summary>
    public long RxOffloadErrors;

    /// <summary>Guest memory accesses for frame data that failed (address outside RAM, bus mastering off).</summary>
    public long DmaFaults;
    /// <summary>Descriptors that were malformed or could not be read or written, and bad ring indices.</summary>
    public long DescriptorFaults;
    /// <summary>Register accesses to undeclared offsets.</summary>
    public long UnknownRegisterAccesses;

    /// <summary>
    /// Counts a frame delivered to the guest: frames, bytes, and broadcast or multicast by destination.
    /// Call under the device's lock: the counts are plain stores (readers still see whole values), as
    /// an interlocked add per counter would be a good part of a small frame's cost.
    /// </summary>
    public void CountDelivered(ReadOnlySpan<byte> frame)
    {
        RxFrames++;
        RxBytes += frame.Length;
        if (frame.Length < MacAddress.Length || (frame[0] & 1) == 0) return;
        if (MacAddress.TryRead(frame, out var d) && d.IsBroadcast) RxBroadcast++;
        else RxMulticast++;
    }

    /// <summary>Counts a frame the receive filter rejected, by reason (<see cref="RxTooShort"/> or <see cref="RxFiltered"/>). Accepted results count nothing.</summary>
    public void CountRejected(ReceiveFilterResult result)
    {
        if (result == ReceiveFilterResult.RejectedTooShort) Interlocked.Increment(ref RxTooShort);
        else if (!result.IsAccepted()) Interlocked.Increment(ref RxFiltered);
    }

    /// <summary>Counts a frame handed to the port: frames and bytes if <paramref name="sent"/>, else <see cref="TxDropped"/>.</summary>
    public void CountSent(int length, bool sent)
    {
        if (!sent) { Interlocked.Increment(ref TxDropped); return; }
        Interlocked.Increment(ref TxFrames);
        Interlocked.Add(ref TxBytes, length);
    }

    /// <summary>Every counter by name (snake_case, ethtool style), for management; allocates, so not for the frame path.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Snapshot() =>
    [
        new("tx_frames", Interlocked.Read(ref TxFrames)),
        new("tx_bytes", Interlocked.Read(ref TxBytes)),
        new("tx_errors", Interlocked.Read(ref TxErrors)),
        new("tx_dropped", Interlocked.Read(ref TxDropped)),
        new("tx_segments", Interlocked.Read(ref TxSegments)),
        new("rx_frames", Interlocked.Read(ref RxFrames)),
        new("rx_bytes", Interlocked.Read(ref RxBytes)),
        new("rx_broadcast", Interlocked.Read(ref RxBroadcast)),
        new("rx_multicast", Interlocked.Read(ref RxMulticast)),
        new("rx_no_buffer", Interlocked.Read(ref RxNoBuffer)),
        new("rx_filtered", Interlocked.Read(ref RxFiltered)),
        new("rx_too_long", Interlocked.Read(ref RxTooLong)),
        new("rx_too_short", Interlocked.Read(ref RxTooShort)),
        new("rx_disabled", Interlocked.Read(ref RxDisabled)),
        new("rx_gso_frames", Interlocked.Read(ref RxGsoFrames)),
        new("rx_segments", Interlocked.Read(ref RxSegments)),
        new("rx_offload_errors", Interlocked.Read(ref RxOffloadErrors)),
        new("dma_faults", Interlocked.Read(ref DmaFaults)),
        new("descriptor_faults", Interlocked.Read(ref DescriptorFaults)),
        new("unknown_register_accesses", Interlocked.Read(ref UnknownRegisterAccesses)),
    ];

    /// <summary>Sets every counter to 0 (management request; a device reset keeps counters, like hardware statistics outside the MAC).</summary>
    public void Clear()
    {
        TxFrames = TxBytes = TxErrors = TxDropped = TxSegments = 0;
        RxFrames = RxBytes = RxBroadcast = RxMulticast = RxNoBuffer = RxFiltered = RxTooLong = RxTooShort = RxDisabled = 0;
        RxGsoFrames = RxSegments = RxOffloadErrors = 0;
        DmaFaults = DescriptorFaults = UnknownRegisterAccesses = 0;
    }
}
