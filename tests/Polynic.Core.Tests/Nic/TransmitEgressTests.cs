using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Core.Pci;

namespace Polynic.Core.Tests.Nic;

/// <summary>
/// The NIC core's transmit egress: a frame and its <see cref="FrameOffload"/> go to a port that takes
/// the offload whole, are completed in software for one that does not or while the NIC loops back,
/// and are counted once the same way whichever path they take.
/// </summary>
public class TransmitEgressTests
{
    private const PortCapabilities Gso = PortCapabilities.Checksum | PortCapabilities.Segmentation;

    internal sealed class TestNic() : NicDevice(new NicSettings(MacAddress.FromUInt64(0x02_00_00_00_00_01)))
    {
        public bool Loopback;
        public int Minimum;
        public bool Record = true;
        public List<byte[]> LoopedBack { get; } = [];
        public List<int> WireLengths { get; } = [];
        public override PciFunctionDefinition Definition => throw new NotSupportedException();
        public TransmitResult Send(Span<byte> frame, in FrameOffload offload) => Transmit(frame, offload);
        public bool SendReadOnly(ReadOnlySpan<byte> frame, in FrameOffload offload) => Transmit(frame, offload);
        protected override bool LoopingBack => Loopback;
        protected override int MinimumTransmitLength => Minimum;
        protected override void ReceiveLoopedBack(ReadOnlySpan<byte> frame) { if (Record) LoopedBack.Add(frame.ToArray()); }
        protected override void OnTransmitted(ReadOnlySpan<byte> frame, int length) { if (Record) WireLengths.Add(length); }
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame) { }
        protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) { }
        protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
        protected override void ResetDevice() { }
    }

    internal sealed class RecordingPort(PortCapabilities capabilities) : IPort
    {
        public bool Record = true;
        public long Count;
        public List<(byte[] Frame, FrameOffload? Offload)> Sent { get; } = [];
        public string Name => "recording";
        public bool LinkUp { get; set; } = true;
        public PortCapabilities Capabilities => capabilities;
        public void Start(IPortReceiver receiver) { }
        public bool Send(ReadOnlySpan<byte> frame) => Keep(frame, null);
        public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
        {
            // Not Assert.Equal: it allocates, and the allocation test sends through this port.
            if ((offload.Requires & ~capabilities) != 0) throw new InvalidOperationException("an offload the port does not offer");
            return Keep(frame, offload);
        }
        private bool Keep(ReadOnlySpan<byte> frame, FrameOffload? offload)
        {
            Count++;
            if (Record) Sent.Add((frame.ToArray(), offload));
            return LinkUp;
        }
        public void Dispose() { }
    }

    private static (TestNic Nic, RecordingPort Port) Nic(PortCapabilities capabilities)
    {
        var nic = new TestNic();
        var port = new RecordingPort(capabilities);
        nic.AttachPort(port);
        return (nic, port);
    }

    /// <summary>A TSO packet as NIC drivers prepare it (Linux e1000_tso): IP length and checksum 0, pseudo-header seed without length.</summary>
    internal static byte[] DriverTso(bool ipv6, int payload)
    {
        var frame = FrameBuilder.Tcp(ipv6, payload, flags: 0x18);
        if (!ipv6)
        {
            frame[16] = frame[17] = 0;
            frame[24] = frame[25] = 0;
        }
        return frame;
    }

    private static readonly FrameOffload Tso4 = new(true, 34, 16, GsoType.TcpV4, 0, 1448);

    private static FrameOffload Partial(ushort start, ushort offset) => new(true, start, offset, GsoType.None, 0, 0);

    [Fact]
    public void A_plain_frame_goes_to_the_port_and_counts_one_frame()
    {
        var (nic, port) = Nic(Gso);
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 100, flags: 0x18);
        Assert.Equal(TransmitResult.Sent, nic.Send(frame, default));
        Assert.Equal(frame, Assert.Single(port.Sent).Frame);
        Assert.Null(port.Sent[0].Offload);
        Assert.Equal((1, frame.Length, 0, 0, 0), (nic.Counters.TxFrames, nic.Counters.TxBytes, nic.Counters.TxSegments, nic.Counters.TxErrors, nic.Counters.TxDropped));
    }

    [Fact]
    public void A_partial_checksum_goes_to_a_port_that_completes_checksums_and_is_completed_for_one_that_does_not()
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 700, flags: 0x18);
        var ip = frame.AsSpan(14, 20);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), InternetChecksum.Fold(PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), 6, (ushort)(frame.Length - 34))));
        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));

        var (taking, port) = Nic(PortCapabilities.Checksum);
        taking.Send((byte[])frame.Clone(), Partial(34, 16));
        var (whole, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, whole);
        Assert.Equal(Partial(34, 16), offload);

        var (completing, plain) = Nic(PortCapabilities.None);
        completing.Send((byte[])frame.Clone(), Partial(34, 16));
        var (done, none) = Assert.Single(plain.Sent);
        Assert.Null(none);
        TcpSegmenterTests.AssertChecksumsValid(done);

        foreach (var n in new[] { taking, completing })
            Assert.Equal((1, 0, 0), (n.Counters.TxFrames, n.Counters.TxSegments, n.Counters.TxErrors));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tso_frame_goes_whole_to_a_segmenting_port_with_real_lengths_and_is_cut_for_any_other(bool ipv6)
    {
        const int payload = 5000, segments = 4;
        var offload = ipv6 ? Tso4 with { GsoType = GsoType.TcpV6, ChecksumStart = 54 } : Tso4;
        int headers = ipv6 ? 74 : 54;

        var (taking, port) = Nic(Gso);
        Assert.Equal(TransmitResult.Sent, taking.Send(DriverTso(ipv6, payload), offload));
        var (whole, handed) = Assert.Single(port.Sent);
        Assert.Equal(new FrameOffload(true, (ushort)(headers - 20), 16, offload.GsoType, (ushort)headers, 1448), handed);
        var cut = new List<byte[]>();
        var sink = new Collect(cut);
        Assert.Equal(OffloadStatus.Ok, TcpSegmenter.Segment(whole, headers, 1448, new byte[2000], ref sink, out _));
        foreach (var s in cut) TcpSegmenterTests.AssertChecksumsValid(s);
        Assert.Equal(new[] { 1448 + headers, 1448 + headers, 1448 + headers, 656 + headers }, taking.WireLengths);

        var (cutting, plain) = Nic(PortCapabilities.Checksum);
        Assert.Equal(TransmitResult.Sent, cutting.Send(DriverTso(ipv6, payload), offload));
        Assert.Equal(segments, plain.Sent.Count);
        Assert.All(plain.Sent, s => Assert.Null(s.Offload));
        foreach (var (s, _) in plain.Sent) TcpSegmenterTests.AssertChecksumsValid(s);
        Assert.Equal(cut.Select(s => s.Length), plain.Sent.Select(s => s.Frame.Length));

        // The same hand-off counts the same segments, whoever cuts them.
        Assert.Equal((1, segments), (taking.Counters.TxFrames, taking.Counters.TxSegments));
        Assert.Equal((segments, segments), (cutting.Counters.TxFrames, cutting.Counters.TxSegments));
        Assert.Equal(whole.Length, taking.Counters.TxBytes);
        Assert.Equal(plain.Sent.Sum(s => s.Frame.Length), cutting.Counters.TxBytes);
    }

    [Fact]
    public void In_loopback_nothing_reaches_a_port_that_takes_gso_and_complete_frames_come_back_counted_as_transmitted()
    {
        var (nic, port) = Nic(Gso);
        nic.Loopback = true;
        nic.Send(DriverTso(ipv6: false, payload: 3000), Tso4);
        var partial = FrameBuilder.Tcp(ipv6: false, payload: 100, flags: 0x18);
        partial[50] = partial[51] = 0;
        nic.Send(partial, Partial(34, 16));
        nic.Send(FrameBuilder.Tcp(ipv6: false, payload: 10, flags: 0x18), default);

        Assert.Empty(port.Sent);
        Assert.Equal(3 + 1 + 1, nic.LoopedBack.Count);
        foreach (var s in nic.LoopedBack.Take(3)) TcpSegmenterTests.AssertChecksumsValid(s);
        Assert.NotEqual(0, nic.LoopedBack[3][50] | nic.LoopedBack[3][51]);
        Assert.Equal((5, 3, 0, 0), (nic.Counters.TxFrames, nic.Counters.TxSegments, nic.Counters.TxDropped, nic.Counters.TxErrors));
        Assert.Equal(nic.LoopedBack.Sum(f => (long)f.Length), nic.Counters.TxBytes);
    }

    [Theory]
    [InlineData(GsoType.TcpV6, (ushort)0, (ushort)1448)]    // an IPv4 frame called TCPv6
    [InlineData(GsoType.UdpL4, (ushort)0, (ushort)1448)]    // a TCP frame called UDP
    [InlineData(GsoType.Udp, (ushort)0, (ushort)1448)]      // UFO: never done
    [InlineData(GsoType.TcpV4, (ushort)60, (ushort)1448)]   // a header length the driver gave that is not the headers'
    [InlineData(GsoType.TcpV4, (ushort)0, (ushort)0)]       // MSS 0
    [InlineData(GsoType.TcpV4, (ushort)0, (ushort)1)]       // 20 000 segments: over the cap
    public void A_gso_frame_that_cannot_be_honoured_is_refused_and_counted_once_whatever_the_port(GsoType type, ushort headerLength, ushort mss)
    {
        foreach (var capabilities in new[] { PortCapabilities.None, Gso })
        {
            var (nic, port) = Nic(capabilities);
            var offload = Tso4 with { GsoType = type, HeaderLength = headerLength, SegmentSize = mss };
            Assert.Equal(TransmitResult.Refused, nic.Send(DriverTso(ipv6: false, payload: 20_000), offload));
            Assert.Empty(port.Sent);
            Assert.Equal((0, 0, 1), (nic.Counters.TxFrames, nic.Counters.TxSegments, nic.Counters.TxErrors));
        }
    }

    [Fact]
    public void Udp_segmentation_is_cut_by_the_core_even_for_a_port_that_segments_tcp()
    {
        var (nic, port) = Nic(Gso);
        var frame = FrameBuilder.Udp(ipv6: false, payload: 3000);
        Assert.Equal(TransmitResult.Sent, nic.Send(frame, new FrameOffload(true, 34, 6, GsoType.UdpL4, 42, 1000)));
        Assert.Equal(3, port.Sent.Count);
        foreach (var (s, offload) in port.Sent)
        {
            Assert.Null(offload);
            TcpSegmenterTests.AssertChecksumsValid(s);
        }
        Assert.Equal((3, 3), (nic.Counters.TxFrames, nic.Counters.TxSegments));
    }

    [Fact]
    public void A_checksum_field_outside_the_frame_counts_an_error_and_the_frame_goes_out_unchanged()
    {
        var (nic, port) = Nic(PortCapabilities.Checksum);
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 10, flags: 0x18);
        Assert.Equal(TransmitResult.Sent, nic.Send((byte[])frame.Clone(), Partial(60, 16)));
        var (sent, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, sent);
        Assert.Null(offload);
        Assert.Equal((1, 1), (nic.Counters.TxFrames, nic.Counters.TxErrors));
    }

    [Fact]
    public void Short_frames_and_segments_are_padded_with_zeros_and_a_short_partial_checksum_is_completed_first()
    {
        var (nic, port) = Nic(PortCapabilities.Checksum);
        nic.Minimum = 60;
        var tiny = new byte[42];
        tiny.AsSpan().Fill(0xAA);
        nic.Send(tiny, default);
        var padded = port.Sent[0].Frame;
        Assert.Equal(60, padded.Length);
        Assert.All(padded[42..], b => Assert.Equal(0, b));

        // 54 bytes of headers + 2 of payload: the port would send it unpadded, so the core completes it.
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 2, flags: 0x18);
        nic.Send(frame, Partial(34, 16));
        Assert.Null(port.Sent[1].Offload);
        Assert.Equal(60, port.Sent[1].Frame.Length);
        Assert.Equal(new[] { 60, 60 }, nic.WireLengths);
    }

    [Fact]
    public void Without_link_or_port_frames_are_dropped_and_counted_and_a_read_only_frame_is_left_unchanged()
    {
        var (nic, port) = Nic(PortCapabilities.None);
        port.LinkUp = false;
        var frame = DriverTso(ipv6: false, payload: 3000);
        var copy = (byte[])frame.Clone();
        Assert.False(nic.SendReadOnly(frame, Tso4));
        Assert.Equal(copy, frame);
        Assert.Equal((0, 3, 3), (nic.Counters.TxFrames, nic.Counters.TxDropped, nic.Counters.TxSegments));

        var unplugged = new TestNic();
        Assert.Equal(TransmitResult.Dropped, unplugged.Send(FrameBuilder.Tcp(ipv6: false, payload: 10, flags: 0), default));
        Assert.Equal(1, unplugged.Counters.TxDropped);
    }

    [Fact]
    public void The_egress_allocates_nothing_once_warm()
    {
        var (nic, port) = Nic(PortCapabilities.None);
        nic.Record = port.Record = false;
        nic.Minimum = 60;
        var tso = DriverTso(ipv6: false, payload: 20_000);
        var partial = FrameBuilder.Tcp(ipv6: true, payload: 1000, flags: 0x18);
        var small = new byte[42];
        var (gsoNic, gsoPort) = Nic(Gso);
        gsoPort.Record = gsoNic.Record = false;
        Allocations.AssertNone(() =>
        {
            nic.Send(tso, Tso4);
            nic.Send(partial, Partial(54, 16));
            nic.Send(small, default);
            nic.Loopback = true;
            nic.Send(tso, Tso4);
            nic.Loopback = false;
            gsoNic.Send(tso, Tso4);
            gsoNic.Send(partial, Partial(54, 16));
        });
    }

    private readonly struct Collect(List<byte[]> into) : ISegmentSink
    {
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            into.Add(segment.ToArray());
            return true;
        }
    }
}
