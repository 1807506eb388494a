using Polynic.Ports.Capture;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Capture;

public sealed class CapturePortTests
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x0A];
    private static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0x0B];

    [Fact]
    public void Two_ports_record_both_directions_into_one_file_as_two_interfaces()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["two.pcapng"]);
        using var pair = new PortPair();
        using var nic0 = new CapturePort(pair.A, writer, "nic0", ownsInner: false);
        using var nic1 = new CapturePort(pair.B, writer, "nic1", ownsInner: false);
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        nic0.Start(atA);
        nic1.Start(atB);

        Assert.True(nic0.Send(Frames.Ethernet(MacB, MacA, 0x88B5, new byte[46])));
        Assert.True(nic1.Send(Frames.Ethernet(MacA, MacB, 0x88B5, new byte[100])));
        writer.Dispose();

        // Inline delivery: each frame is recorded leaving one NIC, then arriving at the other.
        var rows = Tshark.Fields(writer.Path, null, "frame.interface_name", "eth.src", "frame.len", "frame.packet_flags_direction");
        Assert.Equal(
            [
                ["nic0", "02:00:00:00:00:0a", "60", "outbound"],
                ["nic1", "02:00:00:00:00:0a", "60", "inbound"],
                ["nic1", "02:00:00:00:00:0b", "114", "outbound"],
                ["nic0", "02:00:00:00:00:0b", "114", "inbound"],
            ],
            rows.Select(r => new[] { r[0], r[1], r[2], Tshark.Direction(r[3]) }));
        Assert.Single(atB.Received);
        Assert.Single(atA.Received);
        Assert.Equal(4, writer.PacketsWritten);
    }

    [Fact]
    public void An_icmp_echo_through_a_capture_port_is_decoded_by_tshark()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["icmp.pcapng"]);
        using var pair = new PortPair();
        using var capture = new CapturePort(pair.A, writer, ownsInner: false);
        pair.B.Start(new FrameRecorder());
        capture.Start(new FrameRecorder());

        byte[] ipA = [192, 0, 2, 10], ipB = [192, 0, 2, 11];
        capture.Send(Frames.ArpRequest(MacA, ipA, ipB));
        capture.Send(Frames.IcmpEchoRequest(MacA, MacB, ipA, ipB, 0x1234, 7, "polynic"u8));
        writer.Flush();

        var rows = Tshark.Fields(writer.Path, "icmp", "frame.interface_name", "ip.src", "ip.dst", "icmp.type", "icmp.ident", "icmp.seq");
        Assert.Equal([["loop:a", "192.0.2.10", "192.0.2.11", "8", "4660", "7"]], rows);
        Assert.Equal([["ff:ff:ff:ff:ff:ff"]], Tshark.Fields(writer.Path, "arp", "eth.dst"));
    }

    [Fact]
    public void Offloaded_sends_are_recorded_as_handed_over_and_pass_through()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["offload.pcapng"]);
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = Core.Nic.PortCapabilities.Checksum });
        using var capture = new CapturePort(pair.A, writer, "nic0", ownsInner: false);
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        capture.Start(new FrameRecorder());
        var frame = Frames.TcpV4(MacA, MacB, [192, 0, 2, 10], [192, 0, 2, 11], 1234, 80, 1, 0, Frames.TcpSyn, [], Frames.TcpChecksum.PseudoHeaderOnly);

        Assert.Equal(Core.Nic.PortCapabilities.Checksum, capture.Capabilities);
        Assert.True(capture.Send(frame, new Core.Nic.FrameOffload(true, 34, 16, Core.Nic.GsoType.None, 0, 0)));
        writer.Flush();

        Assert.Equal([["nic0", "54"]], Tshark.Fields(writer.Path, "tcp.flags.syn == 1", "frame.interface_name", "frame.len"));
        Assert.True(Frames.TcpV4ChecksumsValid(Assert.Single(atB.Received)));
    }

    [Fact]
    public void Link_changes_and_names_pass_through_and_a_disposed_writer_does_not_stop_traffic()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["link.pcapng"]);
        using var pair = new PortPair();
        using var capture = new CapturePort(pair.A, writer, ownsInner: false);
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        capture.Start(atA);
        pair.B.Start(atB);

        Assert.Equal("loop:a", capture.Name);
        Assert.Equal("loop:a", capture.InterfaceName);
        pair.Disconnect();
        Assert.False(capture.LinkUp);
        pair.Connect();
        Assert.Equal([false, true], atA.Links);

        writer.Dispose();
        Assert.True(capture.Send(Frames.Ethernet(MacB, MacA, 0x88B5, new byte[46])));
        Assert.True(pair.B.Send(Frames.Ethernet(MacA, MacB, 0x88B5, new byte[46])));
        Assert.Single(atB.Received);
        Assert.Single(atA.Received);
        Assert.Equal(2, writer.PacketsDropped);
    }

    [Fact]
    public void Disposing_the_capture_port_disposes_the_inner_port_it_owns_but_not_the_writer()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["own.pcapng"]);
        using var pair = new PortPair();
        var capture = new CapturePort(pair.A, writer);
        capture.Start(new FrameRecorder());

        capture.Dispose();
        capture.Dispose();

        Assert.True(pair.A.IsDisposed);
        Assert.Equal(1, writer.AddInterface("still-open"));
    }

    [Fact]
    public void Sending_through_a_capture_port_allocates_nothing()
    {
        using var files = new CaptureFiles();
        using var writer = new PcapngWriter(files["alloc.pcapng"], new PcapngWriterOptions { BufferSize = 4096, FlushInterval = TimeSpan.Zero });
        using var pair = new PortPair();
        using var capture = new CapturePort(pair.A, writer, ownsInner: false);
        capture.Start(new FrameRecorder());
        pair.B.Start(new CountingReceiver());
        var frame = Frames.Ethernet(MacB, MacA, 0x88B5, new byte[1000]);

        // 100 frames of ~1 KiB overflow the 4 KiB buffer many times: the file writes are measured too.
        AssertNoAllocation(() =>
        {
            for (int i = 0; i < 100; i++) capture.Send(frame);
        });
        Assert.Equal(0, writer.PacketsDropped);
    }

    private sealed class CountingReceiver : Core.Nic.IPortReceiver
    {
        public int Frames;

        public void Receive(ReadOnlySpan<byte> frame) => Frames++;

        public void LinkChanged(bool up)
        {
        }
    }

    private static void AssertNoAllocation(Action body)
    {
        body();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);
    }
}
