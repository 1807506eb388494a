using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// What the 82540 does to a gathered packet before it leaves (8254x SDM 3.3.5-3.3.7, 3.5 TCP
/// segmentation): checksum insertion (legacy IC/CSS/CSO, or the context's IP and TCP/UDP fields
/// selected by POPTS), VLAN tag insertion (VLE with CTRL.VME), and TSO. A TSO packet goes to the
/// port whole, with a <see cref="FrameOffload"/>, when the port segments; otherwise the core's
/// <see cref="TcpSegmenter"/> cuts it here. The checksum arithmetic and segmentation are the core's.
/// </summary>
internal sealed class TransmitOffload
{
    private const int TagLength = 4;
    private const int MacAddressesLength = 12;

    private readonly E1000Device _device;
    private readonly TransmitPath _path;
    private readonly byte[] _segment = new byte[TransmitPath.MaxPacket + TagLength];

    public TransmitOffload(E1000Device device, TransmitPath path)
    {
        _device = device;
        _path = path;
    }

    /// <summary>TSO packets the port was handed whole.</summary>
    public long HandedToPort { get; private set; }

    /// <summary>
    /// Finishes and sends the packet at <paramref name="buffer"/>[<paramref name="offset"/>..], which
    /// has at least <see cref="TagLength"/> bytes of headroom for a VLAN tag.
    /// </summary>
    public void Send(byte[] buffer, int offset, int length, in TransmitRequest request, in TransmitContext context)
    {
        var packet = buffer.AsSpan(offset, length);
        if (request.Segment)
        {
            SendSegmented(buffer, offset, length, request, context);
            return;
        }
        if (request.Extended)
        {
            bool transport = (request.Options & TransmitDescriptor.PoptsTxsm) != 0;
            if (transport && TrySendPartial(buffer, offset, length, request, context)) return;
            // TCP/UDP first: an IP range "to the end" (IPCSE = 0) then covers the finished transport checksum.
            if (transport)
                Insert(packet, context.TransportStart, context.TransportOffset, context.TransportEnd);
            if ((request.Options & TransmitDescriptor.PoptsIxsm) != 0)
                Insert(packet, context.IpStart, context.IpOffset, context.IpEnd);
        }
        else if (request.LegacyChecksum)
        {
            Insert(packet, request.LegacyStart, request.LegacyOffset, 0);
        }
        _path.Emit(Tag(buffer, offset, length, request));
    }

    /// <summary>
    /// A TCP/UDP checksum "from TUCSS to the end" is exactly a virtio partial checksum: a port that
    /// completes checksums gets the frame as it is, with the driver's pseudo-header seed in the field
    /// (Linux e1000_tx_csum leaves the same seed virtio expects). Only without an IP checksum request,
    /// loopback or a transport end, and only for a field inside the packet.
    /// </summary>
    private bool TrySendPartial(byte[] buffer, int offset, int length, in TransmitRequest request, in TransmitContext context)
    {
        if ((request.Options & TransmitDescriptor.PoptsIxsm) != 0 || context.TransportEnd != 0 || _device.LoopbackActive
            || (_device.PortCapabilities & PortCapabilities.Checksum) == 0
            || context.TransportOffset < context.TransportStart || context.TransportOffset + 2 > length
            || length < TransmitPath.MinFrame)
            return false;
        var frame = Tag(buffer, offset, length, request);
        int shift = frame.Length - length;
        var offload = new FrameOffload(
            NeedsChecksum: true, ChecksumStart: (ushort)(context.TransportStart + shift),
            ChecksumOffset: (ushort)(context.TransportOffset - context.TransportStart), GsoType: GsoType.None, HeaderLength: 0, SegmentSize: 0);
        PartialToPort++;
        _device.Statistics.CountTransmitted(frame, frame.Length + Statistics.FcsLength);
        _device.SendToPort(frame, offload);
        return true;
    }

    /// <summary>Frames whose transport checksum the port completed.</summary>
    public long PartialToPort { get; private set; }

    private void Insert(Span<byte> packet, int start, int offset, int end)
    {
        if (!ChecksumOffload.TryInsert(packet, start, offset, end))
        {
            // The frame still goes out, with whatever the driver put in the field (as hardware would).
            _device.Counters.TxErrors++;
            _device.Faults.Warn(_device.Log, "transmit checksum fields outside the packet", (ulong)start << 32 | (uint)offset);
        }
    }

    /// <summary>Inserts VET + SPECIAL after the source address (SDM 3.3.8) by moving the 12 address bytes into the headroom.</summary>
    private Span<byte> Tag(byte[] buffer, int offset, int length, in TransmitRequest request)
    {
        if (!request.InsertVlan || length < MacAddressesLength) return buffer.AsSpan(offset, length);
        var frame = buffer.AsSpan(offset - TagLength, length + TagLength);
        buffer.AsSpan(offset, MacAddressesLength).CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame[MacAddressesLength..], (ushort)_device.Registers.Get(Vet));
        BinaryPrimitives.WriteUInt16BigEndian(frame[(MacAddressesLength + 2)..], request.Special);
        return frame;
    }

    private void SendSegmented(byte[] buffer, int offset, int length, in TransmitRequest request, in TransmitContext context)
    {
        var frame = Tag(buffer, offset, length, request);
        int headerLength = context.HeaderLength + (frame.Length - length);
        var stats = _device.Statistics;
        if (context.HeaderLength == 0)
        {
            // HDRLEN is mandatory for TSE (SDM 3.3.6); 0 would let the segmenter guess the headers.
            Refuse(OffloadStatus.HeaderLengthMismatch, 0, context.Mss);
            return;
        }

        const PortCapabilities gso = PortCapabilities.Segmentation | PortCapabilities.Checksum;
        if (context.Tcp && !_device.LoopbackActive && (_device.PortCapabilities & gso) == gso
            && GsoFrame.TryPrepareTcp(frame, headerLength, context.Mss, out var offload))
        {
            HandedToPort++;
            CountSegments(frame, headerLength, context.Mss);
            stats.Increment(Statistics.Tsctc);
            _device.SendToPort(frame, offload);
            return;
        }

        var sink = new Emitter(_path);
        var status = TcpSegmenter.Segment(frame, headerLength, context.Mss, _segment, ref sink, out int segments);
        _device.Counters.TxSegments += segments;
        if (status == OffloadStatus.Ok)
        {
            stats.Increment(Statistics.Tsctc);
            return;
        }
        Refuse(status, headerLength, context.Mss);
    }

    private void Refuse(OffloadStatus status, int headerLength, ushort mss)
    {
        _device.Statistics.Increment(Statistics.Tsctfc);
        _device.Counters.TxErrors++;
        _device.Faults.Warn(_device.Log, "TSO packet refused (status, HDRLEN, MSS)", (ulong)status << 32 | (ulong)headerLength << 16 | mss);
    }

    /// <summary>The statistics of the segments the port will put on the wire for this packet.</summary>
    private void CountSegments(ReadOnlySpan<byte> frame, int headerLength, int mss)
    {
        int payload = frame.Length - headerLength;
        int segments = 0;
        // Bounded: at most 64 KiB / MSS iterations, MSS >= 1.
        for (int done = 0; done < payload; done += mss, segments++)
            _device.Statistics.CountTransmitted(frame, headerLength + Math.Min(mss, payload - done) + Statistics.FcsLength);
        _device.Counters.TxSegments += segments;
    }

    private readonly struct Emitter(TransmitPath path) : ISegmentSink
    {
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            path.Emit(segment);
            return true;
        }
    }
}
