using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Core.Pci;

namespace Polynic.Core.Tests.Nic;

/// <summary>
/// GSO and partial-checksum frames from a port: a NIC that takes them gets them whole, any other
/// gets complete MTU-sized frames cut by the core, and a bad offload description is a counted drop.
/// </summary>
public class ReceiveOffloadTests
{
    private static readonly FrameOffload Tso4 = new(true, 34, 16, GsoType.TcpV4, HeaderLength: 54, SegmentSize: 1448);

    private sealed class TestNic(PortCapabilities offloads, bool acceptNow) : NicDevice(new NicSettings(MacAddress.FromUInt64(0x02_00_00_00_00_01)))
    {
        public List<byte[]> Complete { get; } = [];
        public List<(byte[] Frame, FrameOffload Offload)> Whole { get; } = [];
        public override PciFunctionDefinition Definition => throw new NotSupportedException();
        protected override PortCapabilities ReceiveOffloads => offloads;
        protected override bool AcceptsReceiveOffload(in FrameOffload offload) => acceptNow && (offload.Requires & ~offloads) == 0;
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => Complete.Add(frame.ToArray());
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame, in FrameOffload offload) => Whole.Add((frame.ToArray(), offload));
        protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) { }
        protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
        protected override void ResetDevice() { }
    }

    private sealed class PlainReceiver : IPortReceiver
    {
        public List<byte[]> Frames { get; } = [];
        public void Receive(ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());
        public void LinkChanged(bool up) { }
    }

    [Fact]
    public void A_nic_without_receive_offloads_still_asks_its_port_for_gso_and_gets_valid_mss_sized_segments()
    {
        var nic = new TestNic(PortCapabilities.None, acceptNow: false);
        IPortReceiver port = nic;
        // The port reads its peer in large pieces (a tap's queue holds 64 KiB frames); the core cuts them.
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, port.ReceiveCapabilities);
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 60_000, flags: 0x18);

        port.Receive(frame, Tso4);

        Assert.Empty(nic.Whole);
        Assert.Equal((60_000 + 1447) / 1448, nic.Complete.Count);
        Assert.All(nic.Complete, s => Assert.True(s.Length <= 54 + 1448));
        foreach (var s in nic.Complete) TcpSegmenterTests.AssertChecksumsValid(s);
        Assert.Equal(nic.Complete.Count, nic.Counters.RxSegments);
        Assert.Equal(0, nic.Counters.RxOffloadErrors);
    }

    [Fact]
    public void A_nic_that_takes_gso_gets_the_frame_whole_and_one_that_turned_it_off_gets_segments()
    {
        var frame = FrameBuilder.Tcp(ipv6: true, payload: 5000, flags: 0x10);
        var offload = Tso4 with { GsoType = GsoType.TcpV6, ChecksumStart = 54, HeaderLength = 74 };
        var taking = new TestNic(PortCapabilities.Checksum | PortCapabilities.Segmentation, acceptNow: true);
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, ((IPortReceiver)taking).ReceiveCapabilities);
        ((IPortReceiver)taking).Receive(frame, offload);
        Assert.Equal(frame, Assert.Single(taking.Whole).Frame);
        Assert.Empty(taking.Complete);

        var off = new TestNic(PortCapabilities.Checksum | PortCapabilities.Segmentation, acceptNow: false);
        ((IPortReceiver)off).Receive(frame, offload);
        Assert.Empty(off.Whole);
        Assert.Equal(4, off.Complete.Count);
        foreach (var s in off.Complete) TcpSegmenterTests.AssertChecksumsValid(s);
    }

    [Fact]
    public void A_partial_checksum_is_completed_on_a_copy_for_a_nic_that_takes_complete_frames()
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 1000, flags: 0x18);
        var offload = Tso4 with { GsoType = GsoType.None, HeaderLength = 0, SegmentSize = 0 };
        // A driver's partial checksum: the field holds the pseudo-header sum (here: whatever is there, zeroed).
        frame[50] = frame[51] = 0;
        var expected = (byte[])frame.Clone();
        var nic = new TestNic(PortCapabilities.None, acceptNow: false);
        ((IPortReceiver)nic).Receive(frame, offload);
        var got = Assert.Single(nic.Complete);
        Assert.Equal(expected, frame);
        Assert.NotEqual(0, got[50] | got[51]);
        Assert.Equal(expected.AsSpan(0, 50).ToArray(), got.AsSpan(0, 50).ToArray());
    }

    [Theory]
    [InlineData(0, GsoType.TcpV4)]        // gso_size 0
    [InlineData(1448, GsoType.TcpV6)]     // IPv4 frame called TCPv6
    [InlineData(1448, GsoType.Udp)]       // UFO: never segmented here
    [InlineData(1, GsoType.TcpV4)]        // 60 000 one-byte segments: over the segment cap
    public void A_bad_offload_description_is_a_counted_drop_never_a_throw(ushort segmentSize, GsoType type)
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 60_000, flags: 0x18);
        var nic = new TestNic(PortCapabilities.None, acceptNow: false);
        ((IPortReceiver)nic).Receive(frame, Tso4 with { SegmentSize = segmentSize, GsoType = type });
        Assert.Empty(nic.Complete);
        Assert.Equal(1, nic.Counters.RxOffloadErrors);
    }

    [Fact]
    public void A_checksum_field_outside_the_frame_is_a_counted_drop()
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 10, flags: 0x18);
        var nic = new TestNic(PortCapabilities.None, acceptNow: false);
        ((IPortReceiver)nic).Receive(frame, new FrameOffload(true, 60, 16, GsoType.None, 0, 0));
        Assert.Empty(nic.Complete);
        Assert.Equal(1, nic.Counters.RxOffloadErrors);
    }

    [Fact]
    public void A_plain_receiver_gets_complete_frames_from_the_default_implementation()
    {
        var receiver = new PlainReceiver();
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 3000, flags: 0x18);
        ((IPortReceiver)receiver).Receive(frame, Tso4);
        Assert.Equal(3, receiver.Frames.Count);
        foreach (var s in receiver.Frames) TcpSegmenterTests.AssertChecksumsValid(s);
    }

    [Fact]
    public void Receiving_a_gso_frame_through_the_core_allocates_nothing_after_the_first()
    {
        var nic = new CountingNic();
        IPortReceiver port = nic;
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 60_000, flags: 0x18);
        port.Receive(frame, Tso4);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) port.Receive(frame, Tso4);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(21 * 42, nic.Frames);
    }

    private sealed class CountingNic() : NicDevice(new NicSettings(MacAddress.FromUInt64(0x02_00_00_00_00_01)))
    {
        public int Frames;
        public override PciFunctionDefinition Definition => throw new NotSupportedException();
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => Frames++;
        protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) { }
        protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
        protected override void ResetDevice() { }
    }
}
