using System.Text.RegularExpressions;
using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Personalities.E1000.Igb;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Igb;

/// <summary>Polynic's 82576 driven by Debian's stock igb driver, traffic through a tap into a namespace.</summary>
[Collection(RealGuests.Name)]
public sealed partial class IgbGuestTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:82:57:60");

    /// <summary>
    /// The smoke test of the first igb session: a clean probe (NVM checksum, MAC, IGP3 PHY), link at
    /// 1000/full, MSI-X with a vector per queue plus "other", and ping 100/100.
    /// </summary>
    [Fact]
    public async Task Probe_link_msix_and_ping()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-smoke", 1500);
        await r.ConfigureGuestAsync();
        var dmesg = await r.Guest.RunCheckedAsync("dmesg | grep -i -e igb -e eth0", TimeSpan.FromSeconds(10));
        output.WriteLine(dmesg);
        Assert.Contains("Intel(R) Gigabit Ethernet Network Connection", dmesg);
        Assert.Contains("NIC Link is Up 1000 Mbps Full Duplex", dmesg);
        foreach (var bad in new[] { "Checksum Is Not Valid", "Invalid MAC", "Hardware Error", "Tx Unit Hang", "error", "failed", "unable" })
            Assert.DoesNotContain(bad, dmesg, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(Mac.ToString(), (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        var ethtool = await r.Guest.RunCheckedAsync("ethtool eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("Link detected: yes", ethtool);
        Assert.Contains("Speed: 1000Mb/s", ethtool);
        Assert.Contains("Duplex: Full", ethtool);
        Assert.Equal(InterruptMode.Msix, r.Served.Function.Interrupts.Mode);

        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 100);

        // igb asks for one vector per receive and per transmit queue (2 vCPUs: 2 + 2) plus "other".
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.True(interrupts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("MSI")) >= 3, interrupts);
        output.WriteLine(string.Join(", ", r.Device.Counters.Snapshot()));
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    /// <summary>
    /// Traffic and the self-test: iperf3 both ways with TSO frames reaching the tap whole, 16 MiB
    /// both ways with equal sha256, <c>ethtool -t eth0 offline</c> passing its five tests.
    /// </summary>
    [Fact]
    public async Task Iperf3_tso_16_MiB_both_ways_and_offline_self_test()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-traffic", 1500);
        await r.ConfigureGuestAsync();
        var features = await r.Guest.RunCheckedAsync("ethtool -k eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("tcp-segmentation-offload: on", features);
        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        long framesBefore = r.Served.Port!.Counters.FramesSent, bytesBefore = r.Served.Port.Counters.BytesSent;
        var up = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5", TimeSpan.FromMinutes(3));
        long frames = r.Served.Port.Counters.FramesSent - framesBefore, bytes = r.Served.Port.Counters.BytesSent - bytesBefore;
        var down = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5 -R", TimeSpan.FromMinutes(3));
        output.WriteLine($"up: {ReceiverRate().Match(up).Value}, down: {ReceiverRate().Match(down).Value}; to the tap during the upload: {frames} frames, {bytes} bytes");
        Assert.Matches(ReceiverRate(), up);
        Assert.Matches(ReceiverRate(), down);
        Assert.True(frames > 0 && bytes / frames > 3000, $"{frames} frames, {bytes} bytes to the tap during the upload");

        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        output.WriteLine(string.Join(", ", r.Device.Counters.Snapshot()));
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);

        var result = await r.Guest.RunAsync("ethtool -t eth0 offline", TimeSpan.FromMinutes(2));
        output.WriteLine(result.Output);
        output.WriteLine((await r.Guest.RunAsync("dmesg | tail -30", TimeSpan.FromSeconds(10))).Output);
        Assert.Contains("The test result is PASS", result.Output);
        foreach (var test in new[] { "Register test", "Eeprom test", "Interrupt test", "Loopback test", "Link test" })
            Assert.Matches(new Regex($@"{test}\s+\((on/)?offline\)\s+0\b"), result.Output);
        await r.ConfigureGuestAfterResetAsync();
        Assert.Contains(" 0% packet loss", await r.Guest.RunCheckedAsync($"ping -c 5 -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(30)));
        Assert.Null(r.Served.Function.FailureReason);
    }

    /// <summary>
    /// Multiqueue: parallel streams land on both receive queues (RSS) and leave on both transmit
    /// queues; <c>ethtool -L eth0 combined 1</c> re-plans the vectors and traffic goes on.
    /// </summary>
    [Fact]
    public async Task Parallel_streams_use_both_queue_pairs_and_ethtool_L_changes_them()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-queues", 1500);
        await r.ConfigureGuestAsync();
        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 3 -P 8", TimeSpan.FromMinutes(3));
        await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 3 -P 8 -R", TimeSpan.FromMinutes(3));
        var stats = await r.Guest.RunCheckedAsync("ethtool -S eth0 | grep -E '(rx|tx)_queue_[0-9]_packets'", TimeSpan.FromSeconds(10));
        output.WriteLine(stats);
        foreach (var counter in new[] { "rx_queue_0_packets", "rx_queue_1_packets", "tx_queue_0_packets", "tx_queue_1_packets" })
            Assert.True(QueueCounter(stats, counter) > 100, $"{counter}: {stats}");

        await r.Guest.RunCheckedAsync("ethtool -L eth0 combined 1", TimeSpan.FromSeconds(30));
        await r.ConfigureGuestAfterResetAsync();
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        // One queue each way: igb re-plans to three vectors (other, rx-0, tx-0; no pairing below half the RSS maximum).
        Assert.Equal(3, interrupts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("MSI")));
        Assert.DoesNotContain("eth0-rx-1", interrupts);
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    private static long QueueCounter(string ethtoolStats, string name) =>
        long.Parse(ethtoolStats.Split('\n').First(l => l.Trim().StartsWith(name + ":", StringComparison.Ordinal)).Split(':')[1].Trim());

    /// <summary>Receive filtering as the e1000 and e1000e tests check it: multicast table, allmulti, promiscuous.</summary>
    [Fact]
    public async Task Multicast_table_allmulti_and_promiscuous_filter_as_the_driver_asks()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-filters", 1500);
        await r.ConfigureGuestAsync();
        await r.Peer.RunAsync($"ip route add 224.0.0.0/4 dev {r.TapName}");
        Assert.Equal(0, await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.1.2.3")));
        await r.Guest.RunCheckedAsync("/usr/bin/ip maddr add 01:00:5e:01:02:03 dev eth0", TimeSpan.FromSeconds(5));
        Assert.InRange(await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.1.2.3")), 5, 6);
        Assert.Equal(0, await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.9.9.9")));
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 allmulticast on", TimeSpan.FromSeconds(5));
        Assert.InRange(await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.9.9.9")), 5, 6);
        await r.Peer.RunAsync($"ip neigh replace 10.77.{r.Subnet}.99 lladdr 02:00:00:00:00:99 dev {r.TapName}");
        Assert.Equal(0, await ReceivedAfterAsync(r, () => r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 10.77.{r.Subnet}.99", check: false)));
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 promisc on", TimeSpan.FromSeconds(5));
        Assert.InRange(await ReceivedAfterAsync(r, () => r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 10.77.{r.Subnet}.99", check: false)), 5, 6);
        Assert.Null(r.Served.Function.FailureReason);
    }

    private static Task SendMulticastAsync(NicRig<IgbDevice> r, string group) =>
        r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 -I {r.TapName} {group}", TimeSpan.FromSeconds(30), check: false);

    /// <summary>Frames the guest kernel received on eth0 while <paramref name="action"/> ran.</summary>
    private static async Task<long> ReceivedAfterAsync(NicRig<IgbDevice> r, Func<Task> action)
    {
        long before = await RxPacketsAsync(r);
        await action();
        await Task.Delay(300);
        return await RxPacketsAsync(r) - before;
    }

    private static async Task<long> RxPacketsAsync(NicRig<IgbDevice> r) =>
        long.Parse((await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/statistics/rx_packets", TimeSpan.FromSeconds(5))).Trim());

    /// <summary>MSI (the function served without MSI-X, as <c>msix=off</c>): igb falls back to one MSI vector; ping and a file copy.</summary>
    [Fact]
    public async Task Msi_carries_ping_and_a_file_copy()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-msi", 1500, offerMsix: false);
        await r.ConfigureGuestAsync();
        Assert.Equal(InterruptMode.Msi, r.Served.Function.Interrupts.Mode);
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.Contains("MSI", interrupts);
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    /// <summary>INTx only (<c>pci=nomsi</c>): igb falls back to the legacy line with one queue; ping and a file copy.</summary>
    [Fact]
    public async Task Intx_without_msi_carries_ping_and_a_file_copy()
    {
        await using var r = await NicRig<IgbDevice>.StartAsync(rig.Rig, new IgbDevice(new NicSettings(Mac)), "igb-intx", 1500, extraKernelArguments: "pci=nomsi");
        await r.ConfigureGuestAsync();
        Assert.Equal(InterruptMode.Intx, r.Served.Function.Interrupts.Mode);
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.DoesNotContain("MSI", interrupts);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [GeneratedRegex(@"\d+(\.\d+)? [KMG]bits/sec\s+\S*\s*receiver")]
    private static partial Regex ReceiverRate();
}
