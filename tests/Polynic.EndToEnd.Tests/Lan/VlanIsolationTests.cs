using Polynic.EndToEnd.Tests.Network;
using Polynic.Management.Configuration;
using Polynic.Ports.Switching;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Lan;

/// <summary>
/// Three guests with Polynic e1000s on one Polynic switch, all in one IP subnet: two on access
/// VLAN 10, one on access VLAN 20. Only the switch separates them, so the two in VLAN 10 reach
/// each other and the one in VLAN 20 reaches neither, and no frame crosses between the VLANs.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class VlanIsolationTests(RigFixture rig, ITestOutputHelper output)
{
    private const string A = "10.84.0.1", B = "10.84.0.2", C = "10.84.0.3";
    private const string MacA = "52:54:00:84:00:01", MacB = "52:54:00:84:00:02", MacC = "52:54:00:84:00:03";

    [Fact]
    public async Task Guests_on_access_vlan_10_talk_and_the_guest_on_vlan_20_reaches_neither()
    {
        await using var lan = await LanRig.StartAsync(rig.Rig,
            work => new PolynicConfiguration("lan-vlans", null,
                [new SwitchConfiguration("lan", TimeSpan.FromMinutes(5))],
                [
                    LanRig.E1000("a10", work, MacA, new SwitchPortConfiguration("lan", 10, null)),
                    LanRig.E1000("b10", work, MacB, new SwitchPortConfiguration("lan", 10, null)),
                    LanRig.E1000("c20", work, MacC, new SwitchPortConfiguration("lan", 20, null)),
                ]),
            host => host.Functions.Select(f => LanRig.PolynicGuest(f, memoryMiB: 256)));
        var (a, b, c) = (lan.Guests[0], lan.Guests[1], lan.Guests[2]);
        await Task.WhenAll(LanRig.ConfigureAsync(a, A), LanRig.ConfigureAsync(b, B), LanRig.ConfigureAsync(c, C));

        // VLAN 10: both ways.
        var pings = await Task.WhenAll(
            a.RunCheckedAsync($"ping -c 5 -i 0.2 -W 2 {B}", TimeSpan.FromMinutes(1)),
            b.RunCheckedAsync($"ping -c 5 -i 0.2 -W 2 {A}", TimeSpan.FromMinutes(1)));
        PingOutput.AssertAllAnswered(pings[0], 5);
        PingOutput.AssertAllAnswered(pings[1], 5);

        // Across VLANs: nothing, in either direction, although the addresses share a subnet.
        var across = await Task.WhenAll(
            c.RunAsync($"ping -c 3 -W 1 {A}; ping -c 3 -W 1 {B}", TimeSpan.FromMinutes(1)),
            a.RunAsync($"ping -c 3 -W 1 {C}", TimeSpan.FromMinutes(1)),
            b.RunAsync($"ping -c 3 -W 1 {C}", TimeSpan.FromMinutes(1)));
        foreach (var r in across)
        {
            Assert.Contains("3 packets transmitted, 0 packets received", r.Output);
            Assert.DoesNotContain("bytes from", r.Output);
        }
        // No ARP answer crossed either: nobody learned a MAC address from the other VLAN.
        var neighbours = await Task.WhenAll(
            a.RunCheckedAsync("ip neigh show dev eth0", TimeSpan.FromSeconds(10)),
            b.RunCheckedAsync("ip neigh show dev eth0", TimeSpan.FromSeconds(10)),
            c.RunCheckedAsync("ip neigh show dev eth0", TimeSpan.FromSeconds(10)));
        Assert.Contains(MacB, neighbours[0]);
        Assert.Contains(MacA, neighbours[1]);
        Assert.DoesNotContain(MacC, neighbours[0] + neighbours[1]);
        Assert.DoesNotContain(MacA, neighbours[2]);
        Assert.DoesNotContain(MacB, neighbours[2]);

        // The switch's view, once quiet: C sent (ARP requests) but was never sent anything; what
        // A got is exactly what B sent and the other way round, so nothing of C's reached them.
        var lanSwitch = lan.Host.Switches["lan"];
        var (pa, pb, pc) = (LanRig.Find<SwitchPort>(lan.Host.Functions[0].Port), LanRig.Find<SwitchPort>(lan.Host.Functions[1].Port),
            LanRig.Find<SwitchPort>(lan.Host.Functions[2].Port));
        string counters = await QuietAsync(() => $"a10: {pa.Counters}\nb10: {pb.Counters}\nc20: {pc.Counters}\nswitch: {lanSwitch.Counters}");
        output.WriteLine(counters);
        Assert.True(pc.Counters.FramesIn >= 6, counters);
        Assert.Equal(0, pc.Counters.FramesOut);
        Assert.Equal(0, lan.Host.Functions[2].Nic!.Counters.RxFrames);
        Assert.Equal(pb.Counters.FramesIn - pa.Counters.DroppedQueueFull, pa.Counters.FramesOut);
        Assert.Equal(pa.Counters.FramesIn - pb.Counters.DroppedQueueFull, pb.Counters.FramesOut);

        var table = lanSwitch.GetMacTable();
        output.WriteLine(string.Join("\n", table.Select(e => $"{e.Address} vlan {e.Vlan} on {e.Port.Name}")));
        Assert.Contains(table, e => e.Address.ToString() == MacC && e.Vlan == 20);
        Assert.DoesNotContain(table, e => e.Address.ToString() == MacC && e.Vlan != 20);
        Assert.DoesNotContain(table, e => e.Address.ToString() is MacA or MacB && e.Vlan != 10);
        foreach (var f in lan.Host.Functions) Assert.Null(f.Function.FailureReason);
    }

    /// <summary>Waits until two readings 300 ms apart are equal (the guests' background chatter settled).</summary>
    private static async Task<string> QuietAsync(Func<string> read)
    {
        var last = read();
        for (int i = 0; i < 30; i++)
        {
            await Task.Delay(300);
            var now = read();
            if (now == last) return now;
            last = now;
        }
        return last;
    }
}
