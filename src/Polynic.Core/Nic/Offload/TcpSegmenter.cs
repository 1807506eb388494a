using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>Receives the segments of a <see cref="TcpSegmenter"/> pass.</summary>
public interface ISegmentSink
{
    /// <summary>One complete segment (valid only during the call). Return false to stop.</summary>
    bool OnSegment(ReadOnlySpan<byte> segment);
}

/// <summary>
/// TCP segmentation offload (e1000 TSE, virtio-net GSO TCPv4/TCPv6) and UDP segmentation (virtio
/// GSO UDP_L4): cuts the payload of one large frame into segments of at most the MSS, each with a
/// copy of the headers fixed up as a stack would have built it.
/// </summary>
/// <remarks>
/// <para>
/// Per segment i of n: IPv4 total length, identification (first + i, RFC 6864 allows the increment
/// for atomic datagrams and Linux/e1000 do it) and header checksum; IPv6 payload length; TCP
/// sequence number (first + i × MSS), FIN and PSH only on the last segment, CWR only on the first
/// (RFC 3168 6.1.2, as Linux tcp_gso_segment), and the TCP checksum over the pseudo-header; UDP
/// length and checksum (0 sent as 0xFFFF). The length fields and checksums of the input are ignored
/// (e1000 drivers zero them), so the output is correct whatever the driver pre-loaded.
/// </para>
/// <para>
/// Refused, never thrown: headers that do not parse, a header length that differs from the parsed
/// one, MSS 0, a datagram over 65535 bytes, or more than the allowed number of segments. Each
/// <see cref="TryWriteNext"/> does work proportional to one segment; the number of calls that
/// produce a segment is <see cref="SegmentCount"/>.
/// </para>
/// </remarks>
public ref struct TcpSegmenter
{
    /// <summary>Default bound on segments per frame (64 KiB at MSS 128).</summary>
    public const int DefaultMaxSegments = 512;

    private readonly ReadOnlySpan<byte> _frame;
    private readonly FrameHeaders _headers;
    private readonly int _mss;
    private readonly int _payloadLength;
    private readonly uint _firstSequence;
    private readonly ushort _firstIdentification;
    private int _next;

    private TcpSegmenter(ReadOnlySpan<byte> frame, FrameHeaders headers, int mss, int count)
    {
        _frame = frame;
        _headers = headers;
        _mss = mss;
        _payloadLength = frame.Length - headers.HeaderLength;
        SegmentCount = count;
        var l4 = frame[headers.TransportOffset..];
        _firstSequence = headers.IsTcp ? BinaryPrimitives.ReadUInt32BigEndian(l4[4..]) : 0;
        _firstIdentification = headers.IsIPv4 ? BinaryPrimitives.ReadUInt16BigEndian(frame[(headers.NetworkOffset + 4)..]) : (ushort)0;
        _next = 0;
    }

    /// <summary>Number of segments the frame yields.</summary>
    public readonly int SegmentCount { get; }

    /// <summary>The parsed headers of the frame being segmented.</summary>
    public readonly FrameHeaders Headers => _headers;

    /// <summary>Length of the headers copied into every segment.</summary>
    public readonly int HeaderLength => _headers.HeaderLength;

    /// <summary>Largest segment: the buffer size <see cref="TryWriteNext"/> needs.</summary>
    public readonly int MaxSegmentLength => _headers.HeaderLength + Math.Min(_mss, _payloadLength);

    /// <summary>Segments written so far.</summary>
    public readonly int Written => _next;

    /// <summary>
    /// Prepares to segment <paramref name="frame"/>. <paramref name="headerLength"/> is the driver's
    /// idea of the header length (e1000 HDRLEN, virtio hdr_len when exact) or 0 to use the parsed one.
    /// </summary>
    public static OffloadStatus TryCreate(ReadOnlySpan<byte> frame, int headerLength, int segmentSize,
        out TcpSegmenter segmenter, int maxSegments = DefaultMaxSegments)
    {
        segmenter = default;
        if (segmentSize <= 0) return OffloadStatus.ZeroSegmentSize;
        var status = FrameHeaders.TryParse(frame, out var h);
        if (status != OffloadStatus.Ok) return status;
        if (headerLength != 0 && headerLength != h.HeaderLength) return OffloadStatus.HeaderLengthMismatch;
        int payload = frame.Length - h.HeaderLength;
        // IPv4 total length and IPv6 payload length are 16 bits (no jumbograms).
        long datagram = (h.IsIPv4 ? h.NetworkHeaderLength : 0) + (long)h.TransportHeaderLength + payload;
        if (datagram > 0xFFFF) return OffloadStatus.TooLong;
        long count = payload == 0 ? 1 : (payload + (long)segmentSize - 1) / segmentSize;
        if (count > maxSegments) return OffloadStatus.TooManySegments;
        segmenter = new TcpSegmenter(frame, h, segmentSize, (int)count);
        return OffloadStatus.Ok;
    }

    /// <summary>
    /// Prepares to segment <paramref name="frame"/> as a virtio-net header describes it
    /// (<paramref name="offload"/>, virtio 1.2, 5.1.6.2): <see cref="GsoType.TcpV4"/> or
    /// <see cref="GsoType.TcpV6"/>, which must match the parsed IP version and TCP, in
    /// <see cref="FrameOffload.SegmentSize"/>-byte payloads. <see cref="FrameOffload.HeaderLength"/>
    /// is only a hint there ("a hint for implementations"), so the parsed headers are used.
    /// The segments carry full checksums, so <see cref="FrameOffload.NeedsChecksum"/> is done too.
    /// </summary>
    /// <returns>
    /// <see cref="OffloadStatus.UnsupportedGsoType"/> for no segmentation or UDP fragmentation
    /// offload, <see cref="OffloadStatus.GsoTypeMismatch"/> when the frame is not what the type
    /// says, else as <see cref="TryCreate(ReadOnlySpan{byte}, int, int, out TcpSegmenter, int)"/>.
    /// </returns>
    public static OffloadStatus TryCreate(ReadOnlySpan<byte> frame, in FrameOffload offload,
        out TcpSegmenter segmenter, int maxSegments = DefaultMaxSegments)
    {
        segmenter = default;
        if (offload.GsoType is not (GsoType.TcpV4 or GsoType.TcpV6)) return OffloadStatus.UnsupportedGsoType;
        var status = TryCreate(frame, 0, offload.SegmentSize, out var candidate, maxSegments);
        if (status != OffloadStatus.Ok) return status;
        if (!candidate._headers.IsTcp || candidate._headers.IsIPv4 != (offload.GsoType == GsoType.TcpV4))
            return OffloadStatus.GsoTypeMismatch;
        segmenter = candidate;
        return OffloadStatus.Ok;
    }

    /// <summary>
    /// Writes the next segment to <paramref name="destination"/>. False when all segments were
    /// written or the buffer is smaller than the segment (<paramref name="length"/> is then 0).
    /// </summary>
    public bool TryWriteNext(scoped Span<byte> destination, out int length)
    {
        length = 0;
        if (_next >= SegmentCount) return false;
        int i = _next;
        int offset = i * _mss;
        int size = Math.Min(_mss, _payloadLength - offset);
        int hdr = _headers.HeaderLength;
        if (destination.Length < hdr + size) return false;

        _frame[..hdr].CopyTo(destination);
        _frame.Slice(hdr + offset, size).CopyTo(destination[hdr..]);
        var seg = destination[..(hdr + size)];
        int l3 = _headers.NetworkOffset, l4 = _headers.TransportOffset;
        int transportLength = _headers.TransportHeaderLength + size;
        bool first = i == 0, last = i == SegmentCount - 1;

        if (_headers.IsIPv4)
        {
            var ip = seg.Slice(l3, _headers.NetworkHeaderLength);
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(_headers.NetworkHeaderLength + transportLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(_firstIdentification + i));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(seg[(l3 + 4)..], (ushort)transportLength);
        }

        var transport = seg[l4..];
        var sum = new InternetChecksum(_headers.PseudoHeaderSum(seg, transportLength));
        if (_headers.IsTcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(transport[4..], unchecked(_firstSequence + (uint)offset));
            byte flags = transport[13];
            if (!last) flags &= unchecked((byte)~(0x01 | 0x08));   // FIN, PSH
            if (!first) flags &= unchecked((byte)~0x80);           // CWR
            transport[13] = flags;
            BinaryPrimitives.WriteUInt16BigEndian(transport[16..], 0);
            sum.Add(transport);
            BinaryPrimitives.WriteUInt16BigEndian(transport[16..], sum.Finish());
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport[4..], (ushort)transportLength);
            BinaryPrimitives.WriteUInt16BigEndian(transport[6..], 0);
            sum.Add(transport);
            BinaryPrimitives.WriteUInt16BigEndian(transport[6..], sum.FinishNonZero());
        }

        _next++;
        length = seg.Length;
        return true;
    }

    /// <summary>
    /// Segments <paramref name="frame"/> through <paramref name="buffer"/>, handing each segment to
    /// <paramref name="sink"/>. Returns the first refusal, <see cref="OffloadStatus.Stopped"/> if the
    /// sink stopped, or <see cref="OffloadStatus.Ok"/>; <paramref name="segments"/> counts segments delivered.
    /// </summary>
    public static OffloadStatus Segment<TSink>(ReadOnlySpan<byte> frame, int headerLength, int segmentSize, Span<byte> buffer,
        ref TSink sink, out int segments, int maxSegments = DefaultMaxSegments)
        where TSink : ISegmentSink, allows ref struct
    {
        segments = 0;
        var status = TryCreate(frame, headerLength, segmentSize, out var segmenter, maxSegments);
        if (status != OffloadStatus.Ok) return status;
        if (buffer.Length < segmenter.MaxSegmentLength) return OffloadStatus.BufferTooSmall;
        // Bounded by SegmentCount: every successful TryWriteNext advances the cursor.
        while (segmenter.TryWriteNext(buffer, out int length))
        {
            segments++;
            if (!sink.OnSegment(buffer[..length])) return OffloadStatus.Stopped;
        }
        return OffloadStatus.Ok;
    }
}
