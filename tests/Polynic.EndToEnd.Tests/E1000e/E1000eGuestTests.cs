using System.Text.RegularExpressions;
using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Personalities.E1000;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.E1000e;

/// <summary>Polynic's 82574L driven by Debian's stock e1000e driver, traffic through a tap into a namespace.</summary>
[Collection(RealGuests.Name)]
public sealed partial class E1000eGuestTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:e1:00:0e");
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    private Task<NicRig<E1000Device>> StartAsync(string name, string extraKernelArguments = "", int peerMtu = 1500) =>
        NicRig<E1000Device>.StartAsync(rig.Rig, E1000Device.Create82574L(new NicSettings(Mac)), name, peerMtu, extraKernelArguments: extraKernelArguments);

    /// <summary>
    /// One boot, the whole driver: a clean probe, link at 1000/full, three MSI-X vectors (rx, tx,
    /// other), ping, iperf3 both ways with TSO frames reaching the tap whole, 16 MiB each way,
    /// receive filtering (multicast table, allmulti, promiscuous) and the offline self-test.
    /// </summary>
    [Fact]
    public async Task Probe_msix_link_ping_iperf3_tso_16_MiB_both_ways_receive_filters_and_self_test()
    {
        await using var r = await StartAsync("e1000e-main");
        await r.ConfigureGuestAsync();
        var dmesg = await r.Guest.RunCheckedAsync("dmesg | grep -i -e e1000e -e eth0", TimeSpan.FromSeconds(10));
        output.WriteLine(dmesg);
        Assert.Contains("Intel(R) PRO/1000 Network Connection", dmesg);
        Assert.Contains("NIC Link is Up 1000 Mbps Full Duplex", dmesg);
        foreach (var bad in new[] { "Checksum Is Not Valid", "Invalid MAC", "Unit Hang", "error", "failed", "unable" })
            Assert.DoesNotContain(bad, dmesg, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(Mac.ToString(), (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        var ethtool = await r.Guest.RunCheckedAsync("ethtool eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("Link detected: yes", ethtool);
        Assert.Contains("Speed: 1000Mb/s", ethtool);
        Assert.Contains("Duplex: Full", ethtool);
        Assert.Equal(InterruptMode.Msix, r.Served.Function.Interrupts.Mode);

        var ping = await r.Guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1));
        PingOutput.AssertAllAnswered(ping, 100);

        // e1000e requests three MSI-X vectors on the 82574: receive, transmit and "other" (link).
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.Equal(3, interrupts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("MSI")));
        Assert.True(InterruptCount(interrupts, "eth0-rx-0") >= 100, interrupts);
        Assert.True(InterruptCount(interrupts, "eth0-tx-0") > 0, interrupts);

        var features = await r.Guest.RunCheckedAsync("ethtool -k eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("tcp-segmentation-offload: on", features);
        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        long framesBefore = r.Served.Port!.Counters.FramesSent, bytesBefore = r.Served.Port.Counters.BytesSent;
        var up = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5", Long);
        long frames = r.Served.Port.Counters.FramesSent - framesBefore, bytes = r.Served.Port.Counters.BytesSent - bytesBefore;
        var down = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5 -R", Long);
        output.WriteLine($"up: {Rate(up)}, down: {Rate(down)}; to the tap during the upload: {frames} frames, {bytes} bytes; segments {r.Device.Counters.TxSegments}");
        Assert.Matches(ReceiverRate(), up);
        Assert.Matches(ReceiverRate(), down);
        // TSO: the guest's large sends went to the tap whole (the tap segments them), so the average frame is far above the MTU.
        Assert.True(frames > 0 && bytes / frames > 3000, $"{frames} frames, {bytes} bytes to the tap during the upload");

        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        var stats = await r.Guest.RunCheckedAsync("ethtool -S eth0", TimeSpan.FromSeconds(10));
        Assert.Matches(@"rx_errors: 0\b", stats);
        Assert.Matches(@"tx_errors: 0\b", stats);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);

        // Receive filtering as the e1000 test checks it: multicast table, allmulti, promiscuous.
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
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 promisc off", TimeSpan.FromSeconds(5));

        // The offline self-test from MSI-X mode (its interrupt test drops to INTx and comes back), then traffic on MSI-X again.
        await AssertSelfTestPassesAsync(r);
        Assert.Equal(InterruptMode.Msix, r.Served.Function.Interrupts.Mode);
        long rxBefore = InterruptCount(await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5)), "eth0-rx-0");
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 10 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(30)), 10);
        Assert.True(InterruptCount(await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5)), "eth0-rx-0") >= rxBefore + 10);
        Assert.Null(r.Served.Function.FailureReason);
    }

    /// <summary>
    /// <c>ethtool -t eth0 offline</c>: register, NVM, interrupt, PHY loopback and link tests all pass
    /// (QEMU 11.1.3's own e1000e fails three with a current kernel); the link comes back afterwards.
    /// </summary>
    private async Task AssertSelfTestPassesAsync(NicRig<E1000Device> r)
    {
        var result = await r.Guest.RunAsync("ethtool -t eth0 offline", TimeSpan.FromMinutes(2));
        output.WriteLine(result.Output);
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("The test result is PASS", result.Output);
        foreach (var test in new[] { "Register test", "Eeprom test", "Interrupt test", "Loopback test", "Link test" })
            Assert.Matches(new Regex($@"{test}\s+\((on/)?offline\)\s+0\b"), result.Output);
        await r.ConfigureGuestAfterResetAsync();
        Assert.Contains(" 0% packet loss", await r.Guest.RunCheckedAsync($"ping -c 5 -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(30)));
    }

    private static Task SendMulticastAsync(NicRig<E1000Device> r, string group) =>
        r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 -I {r.TapName} {group}", TimeSpan.FromSeconds(30), check: false);

    /// <summary>Frames the guest kernel received on eth0 while <paramref name="action"/> ran.</summary>
    private static async Task<long> ReceivedAfterAsync(NicRig<E1000Device> r, Func<Task> action)
    {
        long before = await RxPacketsAsync(r);
        await action();
        await Task.Delay(300);
        return await RxPacketsAsync(r) - before;
    }

    private static async Task<long> RxPacketsAsync(NicRig<E1000Device> r) =>
        long.Parse((await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/statistics/rx_packets", TimeSpan.FromSeconds(5))).Trim());

    /// <summary>
    /// MSI instead of MSI-X (the driver's IntMode=1; it tests the MSI first and falls back to INTx if
    /// no message arrives): ping and a file copy.
    /// </summary>
    [Fact]
    public async Task Msi_carries_ping_and_a_file_copy()
    {
        await using var r = await StartAsync("e1000e-msi");
        // The rig's init loads modules without parameters: reload the driver with IntMode=1 (MSI), which also re-probes the device.
        await r.Guest.RunCheckedAsync("rmmod e1000e && insmod /lib/modules/polynic/e1000e.ko IntMode=1 && " +
            "for i in $(seq 1 100); do [ -e /sys/class/net/eth0 ] && exit 0; sleep 0.1; done; exit 1", TimeSpan.FromSeconds(30));
        await r.ConfigureGuestAsync();
        Assert.Equal(InterruptMode.Msi, r.Served.Function.Interrupts.Mode);
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.Contains("MSI", interrupts);
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Null(r.Served.Function.FailureReason);
    }

    /// <summary>
    /// INTx only (<c>pci=nomsi</c>): the driver falls back to the legacy line; ping and a file copy.
    /// Then MTU 9000, for which e1000e switches to packet-split receive descriptors.
    /// </summary>
    [Fact]
    public async Task Intx_without_msi_carries_ping_and_a_file_copy_and_mtu_9000_with_packet_split()
    {
        await using var r = await StartAsync("e1000e-intx", "pci=nomsi", peerMtu: 9000);
        await r.ConfigureGuestAsync();
        Assert.Equal(InterruptMode.Intx, r.Served.Function.Interrupts.Mode);
        PingOutput.AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        var interrupts = await r.Guest.RunCheckedAsync("grep eth0 /proc/interrupts", TimeSpan.FromSeconds(5));
        output.WriteLine(interrupts);
        Assert.DoesNotContain("MSI", interrupts);

        await r.Guest.RunCheckedAsync("ip link set eth0 mtu 9000", TimeSpan.FromSeconds(10));
        await r.ConfigureGuestAfterResetAsync();
        Assert.True(r.Device.PacketSplitReceive, "e1000e did not switch to packet-split descriptors for MTU 9000");
        // Don't fragment: the 9000-byte datagram crosses as one frame each way.
        var jumbo = await r.Guest.RunAsync($"/usr/bin/ping -c 5 -s 8972 -M do -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(60));
        output.WriteLine(string.Join(", ", r.Device.Counters.Snapshot()));
        output.WriteLine((await r.Guest.RunAsync("ethtool -S eth0 | grep -v ': 0$'; ethtool -d eth0 | grep -e RCTL -e RDLEN -e RDH -e RDT", TimeSpan.FromSeconds(10))).Output);
        PingOutput.AssertAllAnswered(jumbo.Output, 5);
        Assert.Equal(0, r.Device.Counters.RxTooLong + r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    private static long InterruptCount(string procInterrupts, string name)
    {
        var line = procInterrupts.Split('\n').First(l => l.TrimEnd().EndsWith(name, StringComparison.Ordinal));
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).TakeWhile(t => t.All(char.IsDigit)).Sum(long.Parse);
    }

    private static string Rate(string iperf) => ReceiverRate().Match(iperf).Value;

    [GeneratedRegex(@"\d+(\.\d+)? [KMG]bits/sec\s+\S*\s*receiver")]
    private static partial Regex ReceiverRate();
}
