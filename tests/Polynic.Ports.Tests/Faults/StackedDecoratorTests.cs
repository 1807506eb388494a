using Polynic.Ports.Capture;
using Polynic.Ports.Faults;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Capture;
using Polynic.Ports.Tests.Support;
using static Polynic.Ports.Tests.Faults.FaultFrames;

namespace Polynic.Ports.Tests.Faults;

public sealed class StackedDecoratorTests
{
    [Fact]
    public void A_capture_outside_the_faults_sees_what_the_nic_did_and_one_inside_sees_the_wire()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["stack.pcapng"]);
        using var pair = new PortPair();
        var wire = new CapturePort(pair.A, writer, "wire", ownsInner: false);
        var faults = new FaultInjectionPort(wire, new FaultInjectionOptions
        {
            Seed = 9,
            Settings = new FaultSettings
            {
                Outbound = new DirectionFaults { DropProbability = 0.5 },
                Inbound = new DirectionFaults { CorruptProbability = 1 },
            },
        });
        using var nic = new CapturePort(faults, writer, "nic");
        var atNic = new FrameRecorder();
        var atB = new FrameRecorder();
        nic.Start(atNic);
        pair.B.Start(atB);

        for (int i = 0; i < 40; i++) Assert.True(nic.Send(Numbered(i)));
        Assert.True(pair.B.Send(Numbered(100)));
        nic.Dispose();
        writer.Dispose();

        Assert.True(wire.Inner is LoopbackPort { IsDisposed: false });
        var rows = Tshark.Fields(writer.Path, null, "frame.interface_name", "frame.packet_flags_direction", "data.data");
        string[] Payloads(string name, string direction) =>
            rows.Where(r => r[0] == name && Tshark.Direction(r[1]) == direction).Select(r => r[2]).ToArray();

        Assert.Equal(40, Payloads("nic", "outbound").Length);
        Assert.Equal(40 - faults.Counters.Outbound.Dropped, Payloads("wire", "outbound").Length);
        Assert.Equal(atB.Received.Length, Payloads("wire", "outbound").Length);
        // Inbound: the wire saw the frame as sent, the NIC got it with one byte changed.
        string sent = Convert.ToHexStringLower(Numbered(100).AsSpan(14));
        Assert.Equal(sent, Assert.Single(Payloads("wire", "inbound")));
        Assert.NotEqual(sent, Assert.Single(Payloads("nic", "inbound")));
        var received = Assert.Single(atNic.Received);
        Assert.Single(Enumerable.Range(0, received.Length), i => received[i] != Numbered(100)[i]);
    }
}
