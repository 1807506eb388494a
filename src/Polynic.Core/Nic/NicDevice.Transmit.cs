using Microsoft.Extensions.Logging;
using Polynic.Core.Nic.Offload;

namespace Polynic.Core.Nic;

/// <summary>
/// The transmit egress, the mirror of the receive side's offload completion: a personality parses
/// its descriptors into one frame and a <see cref="FrameOffload"/> and hands both here; the core
/// asks the port whether it takes the offload, completes it in software when the port cannot or the
/// NIC loops back, pads, counts once and sends (QEMU's net_tx_pkt.c does the same for its Intel models).
/// </summary>
public abstract partial class NicDevice
{
    /// <summary>Longest padding the core applies (<see cref="MinimumTransmitLength"/> is clamped to it).</summary>
    private const int MaxPadding = 64;

    /// <summary>Shortest frame whose partial checksum the port may finish: csum_start must be past the Ethernet header.</summary>
    private const int EthernetHeaderLength = 14;

    private readonly byte[] _padded = new byte[MaxPadding];
    private readonly FaultLog _transmitFaults = new();
    private byte[]? _segmentScratch;
    private byte[]? _readOnlyCopy;

    /// <summary>
    /// Sends a complete frame: back into the NIC's receive path while <see cref="LoopingBack"/>, else to
    /// the port, padded to <see cref="MinimumTransmitLength"/> and counted. False if it was dropped
    /// (no port, no link, the port refused it).
    /// </summary>
    protected bool Transmit(ReadOnlySpan<byte> frame) => Emit(frame) == TransmitResult.Sent;

    /// <summary>
    /// Sends a frame with the work its <paramref name="offload"/> describes still to do. The port gets
    /// it whole when it takes that offload (<see cref="IPort.Capabilities"/>) and the NIC is not looping
    /// back; otherwise the core segments it (<see cref="TcpSegmenter"/>) or completes its checksum
    /// (<see cref="ChecksumOffload"/>) and sends the complete frames. Counts once, whichever way:
    /// <see cref="NicCounters.TxSegments"/> gets the segments a GSO frame yields, cut here or by the port.
    /// </summary>
    /// <param name="frame">
    /// The NIC's own buffer, which the core may rewrite in place: a partial checksum is completed
    /// there, and a GSO frame handed to the port gets its real IP lengths and pseudo-header seed
    /// (<see cref="GsoFrame.TryPrepareTcp"/>), as NIC drivers zero them for their hardware.
    /// </param>
    /// <param name="offload">
    /// In the virtio-net header's terms. <see cref="FrameOffload.GsoType"/>: TCPv4/TCPv6 or
    /// <see cref="GsoType.UdpL4"/>, checked against the parsed headers; <see cref="FrameOffload.HeaderLength"/>:
    /// 0, or a length the driver gave exactly (e1000 HDRLEN), refused when it differs from the headers;
    /// a GSO frame's checksum fields are not used (every segment's checksums are recomputed).
    /// A partial checksum whose field lies outside the frame is counted in <see cref="NicCounters.TxErrors"/>
    /// and the frame sent as it is, as hardware would.
    /// </param>
    /// <returns>Whether the frame was sent, dropped, or refused (see <see cref="TransmitResult"/>).</returns>
    protected TransmitResult Transmit(Span<byte> frame, in FrameOffload offload)
    {
        if (offload.GsoType != GsoType.None) return TransmitSegmentation(frame, offload);
        if (offload.NeedsChecksum) return TransmitChecksum(frame, offload.ChecksumStart, offload.ChecksumOffset);
        return Emit(frame);
    }

    /// <summary>
    /// <see cref="Transmit(Span{byte}, in FrameOffload)"/> for a frame the NIC may not change: when the
    /// core has work to do, it works on a copy. False if the frame was dropped or refused.
    /// </summary>
    protected bool Transmit(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!offload.NeedsWork) return Transmit(frame);
        if (frame.Length > ReceiveOffloadCompletion.MaxFrameLength) return Refuse(OffloadStatus.TooLong, (ulong)frame.Length) == TransmitResult.Sent;
        var copy = (_readOnlyCopy ??= new byte[ReceiveOffloadCompletion.MaxFrameLength]).AsSpan(0, frame.Length);
        frame.CopyTo(copy);
        return Transmit(copy, offload) == TransmitResult.Sent;
    }

    /// <summary>
    /// Whether transmitted frames go back into this NIC's receive path now instead of to the port
    /// (MAC or PHY loopback). Such frames are completed in software first, as a MAC loops back what it
    /// would put on the wire, and are counted as transmitted. False by default.
    /// </summary>
    protected virtual bool LoopingBack => false;

    /// <summary>A frame this NIC transmitted while <see cref="LoopingBack"/>; by default it goes to <see cref="ReceiveFrame(ReadOnlySpan{byte})"/>.</summary>
    protected virtual void ReceiveLoopedBack(ReadOnlySpan<byte> frame) => ReceiveFrame(frame);

    /// <summary>
    /// Length the core pads every frame it sends to, with zeros (e1000 TCTL.PSP, the RTL8139C+'s
    /// automatic padding: 60, the Ethernet minimum without FCS); at most 64. 0 by default: no padding.
    /// </summary>
    protected virtual int MinimumTransmitLength => 0;

    /// <summary>
    /// Whether this NIC's own side of the cable passes frames now (e.g. its PHY is powered and has
    /// link); when false, frames for the port are dropped and counted as if the port had no link. True by default.
    /// </summary>
    protected virtual bool TransmitLinkUp => true;

    /// <summary>
    /// Called for every frame the MAC puts out, to the port or looped back, whether the port then
    /// takes it or not, for a personality's own statistics registers. For a GSO frame the port cuts,
    /// it is called once per segment the port will make: <paramref name="frame"/> is then the whole
    /// frame (whose headers are each segment's) and <paramref name="length"/> the segment's length.
    /// </summary>
    /// <param name="frame">The frame (destination address first, no FCS).</param>
    /// <param name="length">Length of the frame on the wire, padding included, without FCS.</param>
    protected virtual void OnTransmitted(ReadOnlySpan<byte> frame, int length) { }

    private TransmitResult TransmitSegmentation(Span<byte> frame, in FrameOffload offload)
    {
        var status = CreateSegmenter(frame, offload, out var segmenter);
        if (status != OffloadStatus.Ok) return Refuse(status, offload.SegmentSize);
        Counters.TxSegments += segmenter.SegmentCount;
        const PortCapabilities gso = PortCapabilities.Segmentation | PortCapabilities.Checksum;
        var port = Port;
        if (!LoopingBack && offload.GsoType != GsoType.UdpL4 && port is not null && (port.Capabilities & gso) == gso
            && GsoFrame.TryPrepareTcp(frame, segmenter.HeaderLength, offload.SegmentSize, out var whole))
        {
            CountSegmentsOnWire(frame, segmenter.HeaderLength, offload.SegmentSize, segmenter.SegmentCount);
            return ToPort(frame, whole, offloaded: true);
        }
        var scratch = _segmentScratch ??= new byte[ReceiveOffloadCompletion.MaxFrameLength];
        if (scratch.Length < segmenter.MaxSegmentLength) return Refuse(OffloadStatus.BufferTooSmall, offload.SegmentSize);
        var result = TransmitResult.Sent;
        // Bounded by the segment count (at most TcpSegmenter.DefaultMaxSegments).
        while (segmenter.TryWriteNext(scratch, out int length))
        {
            if (Emit(scratch.AsSpan(0, length)) != TransmitResult.Sent) result = TransmitResult.Dropped;
        }
        return result;
    }

    /// <summary>
    /// The segmenter for a GSO frame, its type checked against the headers: TCP of the IP version
    /// the type says, or UDP for <see cref="GsoType.UdpL4"/>. UFO cuts IP fragments and is refused.
    /// </summary>
    private static OffloadStatus CreateSegmenter(ReadOnlySpan<byte> frame, in FrameOffload offload, out TcpSegmenter segmenter)
    {
        segmenter = default;
        bool tcp = offload.GsoType is GsoType.TcpV4 or GsoType.TcpV6;
        if (!tcp && offload.GsoType != GsoType.UdpL4) return OffloadStatus.UnsupportedGsoType;
        var status = TcpSegmenter.TryCreate(frame, offload.HeaderLength, offload.SegmentSize, out var candidate);
        if (status != OffloadStatus.Ok) return status;
        var headers = candidate.Headers;
        if (headers.IsTcp != tcp || (tcp && headers.IsIPv4 != (offload.GsoType == GsoType.TcpV4))) return OffloadStatus.GsoTypeMismatch;
        segmenter = candidate;
        return OffloadStatus.Ok;
    }

    /// <summary><see cref="OnTransmitted"/> for each segment the port will cut from a GSO frame.</summary>
    private void CountSegmentsOnWire(ReadOnlySpan<byte> frame, int headerLength, int segmentSize, int segments)
    {
        int payload = frame.Length - headerLength, minimum = Math.Min(MinimumTransmitLength, MaxPadding);
        // Bounded by the segment count (at most TcpSegmenter.DefaultMaxSegments).
        for (int i = 0, done = 0; i < segments; i++, done += segmentSize)
            OnTransmitted(frame, Math.Max(minimum, headerLength + Math.Min(segmentSize, payload - done)));
    }

    private TransmitResult TransmitChecksum(Span<byte> frame, int start, int offset)
    {
        if (start + offset > frame.Length - 2)
        {
            // The frame still goes out, with whatever the driver put in the field, as hardware would.
            Refuse(OffloadStatus.TooShort, (ulong)start << 16 | (uint)offset);
            return Emit(frame);
        }
        var port = Port;
        if (!LoopingBack && start >= EthernetHeaderLength && frame.Length >= MinimumTransmitLength
            && port is not null && (port.Capabilities & PortCapabilities.Checksum) != 0)
        {
            OnTransmitted(frame, frame.Length);
            var partial = new FrameOffload(true, (ushort)start, (ushort)offset, GsoType.None, 0, 0);
            return ToPort(frame, partial, offloaded: true);
        }
        ChecksumOffload.TryComplete(frame, start, offset);
        return Emit(frame);
    }

    /// <summary>A complete frame out: padded, counted by the personality, looped back or sent to the port.</summary>
    private TransmitResult Emit(ReadOnlySpan<byte> frame)
    {
        int minimum = Math.Min(MinimumTransmitLength, MaxPadding);
        if (frame.Length < minimum)
        {
            frame.CopyTo(_padded);
            _padded.AsSpan(frame.Length, minimum - frame.Length).Clear();
            frame = _padded.AsSpan(0, minimum);
        }
        OnTransmitted(frame, frame.Length);
        if (LoopingBack)
        {
            ReceiveLoopedBack(frame);
            Counters.TxFrames++;
            Counters.TxBytes += frame.Length;
            return TransmitResult.Sent;
        }
        return ToPort(frame, default, offloaded: false);
    }

    private TransmitResult ToPort(ReadOnlySpan<byte> frame, in FrameOffload offload, bool offloaded)
    {
        var port = Port;
        if (port is null || !PortLinkUp || !TransmitLinkUp || !Send(port, frame, offload, offloaded))
        {
            Counters.TxDropped++;
            return TransmitResult.Dropped;
        }
        Counters.TxFrames++;
        Counters.TxBytes += frame.Length;
        return TransmitResult.Sent;
    }

    /// <summary>The port's send, marked on this thread (see <see cref="t_transmitting"/>).</summary>
    private static bool Send(IPort port, ReadOnlySpan<byte> frame, in FrameOffload offload, bool offloaded)
    {
        t_transmitting++;
        try
        {
            return offloaded ? port.Send(frame, offload) : port.Send(frame);
        }
        finally
        {
            t_transmitting--;
        }
    }

    private TransmitResult Refuse(OffloadStatus status, ulong detail)
    {
        Counters.TxErrors++;
        if (_context is not null && _transmitFaults.ShouldLog())
            Context.Log.LogWarning("Guest fault: transmit offload refused ({Status}, 0x{Detail:x}); {Suppressed} similar messages suppressed so far",
                status, detail, _transmitFaults.Suppressed);
        return TransmitResult.Refused;
    }
}
