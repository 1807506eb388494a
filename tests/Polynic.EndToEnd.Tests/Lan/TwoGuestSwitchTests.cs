using Polynic.EndToEnd.Tests.Network;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Ports.Capture;
using Polynic.Ports.Switching;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Lan;

/// <summary>
/// Two guests, each with a Polynic e1000, on one Polynic switch inside one server built from a
/// configuration with capture on: they ping each other and run iperf3 both ways; the switch's
/// per-port counters agree with the NICs' own counters and with each other; tshark reads the
/// capture and finds every echo request and reply on both NICs' interfaces.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class TwoGuestSwitchTests(RigFixture rig, ITestOutputHelper output)
{
    private const string Vm1 = "10.81.0.1", Vm2 = "10.81.0.2";

    [Fact]
    public async Task Two_guests_ping_and_iperf3_through_one_switch_counters_agree_and_tshark_reads_the_capture()
    {
        await using var lan = await LanRig.StartAsync(rig.Rig,
            work => new PolynicConfiguration("lan-two-guests",
                new CaptureConfiguration(Path.Combine(work, "lan.pcapng"), 1L << 30, 1, SnapLength: 128),
                [new SwitchConfiguration("lan", TimeSpan.FromMinutes(5))],
                [
                    LanRig.E1000("vm1", work, "52:54:00:81:00:01", new SwitchPortConfiguration("lan", 1, null)),
                    LanRig.E1000("vm2", work, "52:54:00:81:00:02", new SwitchPortConfiguration("lan", 1, null)),
                ]),
            host => host.Functions.Select(f => LanRig.PolynicGuest(f)));
        var (vm1, vm2) = (lan.Guests[0], lan.Guests[1]);
        await Task.WhenAll(LanRig.ConfigureAsync(vm1, Vm1), LanRig.ConfigureAsync(vm2, Vm2));

        // Both ways at once: each guest's ping runs on its own serial line.
        var pings = await Task.WhenAll(
            vm1.RunCheckedAsync($"ping -c 20 -i 0.1 -W 2 {Vm2}", TimeSpan.FromMinutes(1)),
            vm2.RunCheckedAsync($"ping -c 20 -i 0.1 -W 2 {Vm1}", TimeSpan.FromMinutes(1)));
        PingOutput.AssertAllAnswered(pings[0], 20);
        PingOutput.AssertAllAnswered(pings[1], 20);

        await vm2.RunCheckedAsync($"iperf3 -s -D -B {Vm2}", TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        var there = await vm1.RunCheckedAsync($"iperf3 -c {Vm2} -t 3", TimeSpan.FromMinutes(2));
        var back = await vm1.RunCheckedAsync($"iperf3 -c {Vm2} -t 3 -R", TimeSpan.FromMinutes(2));
        LanRig.AssertIperfReceived(there);
        LanRig.AssertIperfReceived(back);
        output.WriteLine(there);
        output.WriteLine(back);

        // Counters once the wire is quiet (both guests idle, nothing queued in the switch).
        var lanSwitch = lan.Host.Switches["lan"];
        var (f1, f2) = (lan.Host.Functions[0], lan.Host.Functions[1]);
        var (p1, p2) = (LanRig.Find<SwitchPort>(f1.Port), LanRig.Find<SwitchPort>(f2.Port));
        var counters = await QuietCountersAsync(f1, f2, p1, p2);
        output.WriteLine(counters);
        Assert.True(p1.Counters.FramesIn > 10_000, counters); // iperf3 moved real traffic through the switch

        // What each NIC handed its port is what the switch took from that port; what the switch
        // delivered is what the NIC took in (delivered, or counted as filtered / no buffer).
        foreach (var (f, p) in new[] { (f1, p1), (f2, p2) })
        {
            var n = f.Nic!.Counters;
            Assert.InRange(p.Counters.FramesIn - (n.TxFrames + n.TxDropped), -2, 2);
            long taken = n.RxFrames + n.RxNoBuffer + n.RxFiltered + n.RxTooLong + n.RxTooShort + n.RxDisabled;
            Assert.InRange(p.Counters.FramesOut - taken, -2, 2);
            Assert.Equal(0, n.DmaFaults + n.DescriptorFaults);
            Assert.Null(f.Function.FailureReason);
        }
        // Two ports: every frame one sends reaches the other unless the switch counted a drop.
        Assert.Equal(0, lanSwitch.Counters.Filtered);
        Assert.Equal(p1.Counters.FramesIn, p2.Counters.FramesOut + IngressDrops(p1) + p2.Counters.DroppedQueueFull);
        Assert.Equal(p2.Counters.FramesIn, p1.Counters.FramesOut + IngressDrops(p2) + p1.Counters.DroppedQueueFull);
        Assert.Equal(0, IngressDrops(p1) + IngressDrops(p2));
        output.WriteLine($"egress queue-full drops: vm1 {p1.Counters.DroppedQueueFull}, vm2 {p2.Counters.DroppedQueueFull}");

        // The capture: both NICs' interfaces, every echo request and reply, each in its direction.
        var writer = LanRig.Find<CapturePort>(f1.Port).Writer;
        writer.Flush();
        Assert.Equal(0, writer.Rotations);
        Assert.Null(writer.Fault);
        Assert.Equal(0, writer.PacketsDropped);
        var tshark = await HostCommand.RunAsync("tshark",
            ["-r", lan.Host.CaptureFile!, "-Y", "icmp", "-T", "fields", "-e", "icmp.type", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction"],
            TimeSpan.FromMinutes(2));
        var rows = tshark.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('\t')).Where(c => c.Length == 3 && c[0] is "0" or "8")
            .GroupBy(c => (Type: c[0], Interface: c[1], Direction: Number(c[2]).ToString())).ToDictionary(g => g.Key, g => g.Count());
        string summary = string.Join(", ", rows.OrderBy(r => r.Key.ToString()).Select(r => $"{r.Key}: {r.Value}"));
        output.WriteLine(summary);
        // pcapng EPB flags: direction 1 = inbound (to the NIC), 2 = outbound (from the NIC).
        // vm1's 20 requests leave vm1 and reach vm2; vm2's 20 replies leave vm2 and reach vm1; and the other way round.
        foreach (var nic in new[] { "vm1", "vm2" })
            foreach (var type in new[] { "8", "0" })
                foreach (var direction in new[] { "1", "2" })
                    Assert.True(rows.GetValueOrDefault((type, nic, direction)) == 20,
                        $"expected 20 ICMP type {type} frames in direction {direction} on {nic}; capture has {summary}\n{tshark}");
    }

    /// <summary>tshark prints the flags field in hex ("0x00000001"); other versions print decimal.</summary>
    private static int Number(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt32(text[2..], 16) : int.TryParse(text, out int n) ? n : -1;

    private static long IngressDrops(SwitchPort p) => p.Counters.DroppedMalformed + p.Counters.DroppedVlanMismatch + p.Counters.DroppedLinkDown;

    /// <summary>Waits until two readings 300 ms apart are equal, then describes them.</summary>
    private static async Task<string> QuietCountersAsync(ServedFunction f1, ServedFunction f2, SwitchPort p1, SwitchPort p2)
    {
        string Read() =>
            $"vm1 port: {p1.Counters}\nvm2 port: {p2.Counters}\n" +
            $"vm1 NIC: {string.Join(", ", f1.Nic!.Counters.Snapshot())}\nvm2 NIC: {string.Join(", ", f2.Nic!.Counters.Snapshot())}";
        var last = Read();
        for (int i = 0; i < 30; i++)
        {
            await Task.Delay(300);
            var now = Read();
            if (now == last && p1.EgressQueueLength == 0 && p2.EgressQueueLength == 0) return now;
            last = now;
        }
        return last;
    }
}
