using System.Buffers.Binary;
using CsCheck;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Core.Tests.Nic;

public class TcpSegmenterTests
{
    private struct Collect : ISegmentSink
    {
        public List<byte[]> Segments;
        public int StopAfter;
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            Segments.Add(segment.ToArray());
            return StopAfter == 0 || Segments.Count < StopAfter;
        }
    }

    private static (OffloadStatus Status, List<byte[]> Segments) Run(byte[] frame, int mss, int headerLength = 0, int max = TcpSegmenter.DefaultMaxSegments, int stopAfter = 0)
    {
        var sink = new Collect { Segments = [], StopAfter = stopAfter };
        var status = TcpSegmenter.Segment(frame, headerLength, mss, new byte[70_000], ref sink, out int n, max);
        Assert.Equal(sink.Segments.Count, n);
        return (status, sink.Segments);
    }

    [Fact]
    public void Ipv4_tso_fixes_lengths_ids_sequence_flags_and_checksums()
    {
        // PSH|ACK|FIN|CWR on the large frame: 4000 bytes, MSS 1448 -> 1448 + 1448 + 1104.
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 4000, flags: 0x80 | 0x10 | 0x08 | 0x01, seq: 0xFFFF_F000, id: 0xFFFE);
        var (status, segs) = Run(frame, 1448, headerLength: 54);
        Assert.Equal(OffloadStatus.Ok, status);
        Assert.Equal(3, segs.Count);
        Assert.Equal([54 + 1448, 54 + 1448, 54 + 1104], segs.Select(s => s.Length));
        Assert.Equal([1448 + 40, 1448 + 40, 1104 + 40], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(16))));
        Assert.Equal([0xFFFE, 0xFFFF, 0x0000], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18))));
        Assert.Equal([0xFFFF_F000u, 0xFFFF_F5A8u, 0xFFFF_FB50u], segs.Select(s => BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(38))));
        Assert.Equal([(byte)0x90, (byte)0x10, (byte)0x19], segs.Select(s => s[47]));
        foreach (var s in segs) AssertChecksumsValid(s);
    }

    [Fact]
    public void Ipv6_tso_fixes_the_payload_length()
    {
        var frame = FrameBuilder.Tcp(ipv6: true, payload: 3000, flags: 0x18, tcpOptions: 12);
        var (status, segs) = Run(frame, 1428);
        Assert.Equal(OffloadStatus.Ok, status);
        Assert.Equal([32 + 1428, 32 + 1428, 32 + 144], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18))));
        foreach (var s in segs) AssertChecksumsValid(s);
    }

    [Fact]
    public void Udp_segmentation_gives_each_datagram_its_length_and_checksum()
    {
        var frame = FrameBuilder.Udp(ipv6: false, payload: 2500);
        var (status, segs) = Run(frame, 1000);
        Assert.Equal(OffloadStatus.Ok, status);
        Assert.Equal([1008, 1008, 508], segs.Select(s => (int)BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(38))));
        foreach (var s in segs) AssertChecksumsValid(s);
    }

    [Fact]
    public void Struct_cursor_writes_segments_one_at_a_time_and_refuses_small_buffers()
    {
        var frame = FrameBuilder.Tcp(false, 100, 0x10, vlan: true);
        Assert.Equal(OffloadStatus.Ok, TcpSegmenter.TryCreate(frame, 58, 60, out var seg));
        Assert.Equal((2, 58, 118), (seg.SegmentCount, seg.HeaderLength, seg.MaxSegmentLength));
        Span<byte> small = stackalloc byte[100];
        Assert.False(seg.TryWriteNext(small, out int len));
        Assert.Equal(0, len);
        Span<byte> buffer = stackalloc byte[200];
        Assert.True(seg.TryWriteNext(buffer, out len));
        Assert.Equal(118, len);
        AssertChecksumsValid(buffer[..len].ToArray());
        Assert.True(seg.TryWriteNext(buffer, out len));
        Assert.Equal(98, len);
        Assert.False(seg.TryWriteNext(buffer, out _));
        Assert.Equal(2, seg.Written);
    }

    [Fact]
    public void Segmenting_and_checksumming_do_not_allocate()
    {
        var frame = FrameBuilder.Tcp(false, 9000, 0x18);
        var buffer = new byte[2000];
        Allocations.AssertNone(() =>
        {
            for (int round = 0; round < 50; round++)
            {
                TcpSegmenter.TryCreate(frame, 54, 1448, out var seg);
                while (seg.TryWriteNext(buffer, out int len)) ChecksumOffload.TryComplete(buffer.AsSpan(0, len), 34, 16);
            }
        });
    }

    [Theory]
    [InlineData(0, 54, OffloadStatus.ZeroSegmentSize)]
    [InlineData(-5, 54, OffloadStatus.ZeroSegmentSize)]
    [InlineData(1448, 60, OffloadStatus.HeaderLengthMismatch)]
    [InlineData(1448, 100_000, OffloadStatus.HeaderLengthMismatch)]
    [InlineData(1, 54, OffloadStatus.TooManySegments)]
    public void Absurd_parameters_are_refused(int mss, int headerLength, OffloadStatus expected)
    {
        var frame = FrameBuilder.Tcp(false, 4000, 0x10);
        Assert.Equal(expected, Run(frame, mss, headerLength).Status);
    }

    [Fact]
    public void Headers_that_do_not_parse_are_refused()
    {
        var tcp = FrameBuilder.Tcp(false, 100, 0x10);
        Assert.Equal(OffloadStatus.TooShort, Run(tcp[..40], 50).Status);
        var arp = (byte[])tcp.Clone(); arp[12] = 0x08; arp[13] = 0x06;
        Assert.Equal(OffloadStatus.UnsupportedEtherType, Run(arp, 50).Status);
        var ihl = (byte[])tcp.Clone(); ihl[14] = 0x44;
        Assert.Equal(OffloadStatus.MalformedIpHeader, Run(ihl, 50).Status);
        var frag = (byte[])tcp.Clone(); frag[20] = 0x20;
        Assert.Equal(OffloadStatus.Fragmented, Run(frag, 50).Status);
        var icmp = (byte[])tcp.Clone(); icmp[23] = 1;
        Assert.Equal(OffloadStatus.UnsupportedProtocol, Run(icmp, 50).Status);
        var doff = (byte[])tcp.Clone(); doff[46] = 0x40;
        Assert.Equal(OffloadStatus.MalformedTransportHeader, Run(doff, 50).Status);
        var ext = FrameBuilder.Tcp(true, 100, 0x10); ext[20] = 0;          // hop-by-hop extension header
        Assert.Equal(OffloadStatus.UnsupportedProtocol, Run(ext, 50).Status);
    }

    [Fact]
    public void A_virtio_offload_segments_by_its_gso_type_and_parses_the_headers_itself()
    {
        var v4 = FrameBuilder.Tcp(false, 3000, 0x18);
        // hdr_len is only a hint (virtio 1.2, 5.1.6.2): a wrong one does not matter.
        var offload = new FrameOffload(true, 34, 16, GsoType.TcpV4, HeaderLength: 60, SegmentSize: 1448);
        Assert.Equal(OffloadStatus.Ok, TcpSegmenter.TryCreate(v4, offload, out var seg));
        Assert.Equal((3, 54), (seg.SegmentCount, seg.HeaderLength));
        var buffer = new byte[seg.MaxSegmentLength];
        while (seg.TryWriteNext(buffer, out int length)) AssertChecksumsValid(buffer[..length]);
        Assert.Equal(3, seg.Written);

        var v6 = FrameBuilder.Tcp(true, 3000, 0x18);
        Assert.Equal(OffloadStatus.Ok, TcpSegmenter.TryCreate(v6, offload with { GsoType = GsoType.TcpV6 }, out seg));
        Assert.Equal(3, seg.SegmentCount);
    }

    [Theory]
    [InlineData(false, false, GsoType.TcpV6, 1448, OffloadStatus.GsoTypeMismatch)]
    [InlineData(true, false, GsoType.TcpV4, 1448, OffloadStatus.GsoTypeMismatch)]
    [InlineData(false, true, GsoType.TcpV4, 1448, OffloadStatus.GsoTypeMismatch)]
    [InlineData(false, true, GsoType.Udp, 1448, OffloadStatus.UnsupportedGsoType)]   // UFO fragments IP; not done here
    [InlineData(false, false, GsoType.None, 1448, OffloadStatus.UnsupportedGsoType)]
    [InlineData(false, false, GsoType.TcpV4, 0, OffloadStatus.ZeroSegmentSize)]
    public void A_virtio_offload_the_frame_does_not_match_is_refused(bool ipv6, bool udp, GsoType type, ushort mss, OffloadStatus expected)
    {
        var frame = udp ? FrameBuilder.Udp(ipv6, 3000) : FrameBuilder.Tcp(ipv6, 3000, 0x10);
        Assert.Equal(expected, TcpSegmenter.TryCreate(frame, new FrameOffload(true, 34, 16, type, 54, mss), out var seg));
        Assert.Equal(0, seg.SegmentCount);
    }

    [Fact]
    public void Datagrams_over_64_KiB_are_refused()
    {
        var frame = FrameBuilder.Tcp(false, 65535 - 40 + 1, 0x10);
        Assert.Equal(OffloadStatus.TooLong, Run(frame, 60000).Status);
        var ok = FrameBuilder.Tcp(false, 65535 - 40, 0x10);
        Assert.Equal(OffloadStatus.Ok, Run(ok, 60000).Status);
    }

    [Fact]
    public void Sink_can_stop_and_buffer_must_fit_a_segment()
    {
        var frame = FrameBuilder.Tcp(false, 5000, 0x10);
        var (status, segs) = Run(frame, 1000, stopAfter: 2);
        Assert.Equal((OffloadStatus.Stopped, 2), (status, segs.Count));
        var sink = new Collect { Segments = [] };
        Assert.Equal(OffloadStatus.BufferTooSmall, TcpSegmenter.Segment(frame, 0, 1000, new byte[1000], ref sink, out _));
    }

    [Fact]
    public void Property_segments_reassemble_the_payload_and_all_checksums_verify() =>
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Int[0, 9000], Gen.Int[1, 3000], Gen.Byte, Gen.Int[0, 10]).Sample((ipv6, udp, payload, mss, flags, options) =>
        {
            var frame = udp ? FrameBuilder.Udp(ipv6, payload) : FrameBuilder.Tcp(ipv6, payload, flags, options * 4);
            Assert.Equal(OffloadStatus.Ok, FrameHeaders.TryParse(frame, out var h));
            var (status, segs) = Run(frame, mss, max: 10_000);
            Assert.Equal(OffloadStatus.Ok, status);
            Assert.Equal(Math.Max(1, (payload + mss - 1) / mss), segs.Count);
            var reassembled = segs.SelectMany(s => s.Skip(h.HeaderLength)).ToArray();
            Assert.Equal(frame.Skip(h.HeaderLength).ToArray(), reassembled);
            for (int i = 0; i < segs.Count; i++)
            {
                var s = segs[i];
                Assert.True(s.Length <= h.HeaderLength + mss);
                AssertChecksumsValid(s);
                if (!udp)
                {
                    byte f = s[h.TransportOffset + 13];
                    if (i < segs.Count - 1) Assert.Equal(0, f & 0x09);
                    if (i > 0) Assert.Equal(0, f & 0x80);
                    Assert.Equal(flags & 0x76, f & 0x76);
                }
            }
        });

    [Fact]
    public void Property_random_bytes_never_throw() =>
        Gen.Select(Gen.Byte.Array[0, 200], Gen.Int[-2, 300], Gen.Int[-2, 100]).Sample((frame, mss, hdr) =>
        {
            var sink = new Collect { Segments = [] };
            var status = TcpSegmenter.Segment(frame, hdr, mss, new byte[400], ref sink, out int n, 64);
            Assert.True(Enum.IsDefined(status));
            Assert.True(n <= 64);
        });

    internal static void AssertChecksumsValid(byte[] segment)
    {
        Assert.Equal(OffloadStatus.Ok, FrameHeaders.TryParse(segment, out var h));
        if (h.IsIPv4)
        {
            Assert.True(InternetChecksum.Verify(segment.AsSpan(h.NetworkOffset, h.NetworkHeaderLength)));
            Assert.Equal(segment.Length - h.NetworkOffset, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(h.NetworkOffset + 2)));
        }
        else
        {
            Assert.Equal(segment.Length - h.TransportOffset, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(h.NetworkOffset + 4)));
        }
        int l4Length = segment.Length - h.TransportOffset;
        Assert.True(InternetChecksum.Verify(segment.AsSpan(h.TransportOffset), h.PseudoHeaderSum(segment, l4Length)));
    }
}
