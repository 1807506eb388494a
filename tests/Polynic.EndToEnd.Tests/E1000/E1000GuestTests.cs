using System.Text.RegularExpressions;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.EndToEnd.Tests.Sockets;
using Polynic.Personalities.E1000;
using Polynic.Ports.Switching;
using Polynic.Rig.Guests;

namespace Polynic.EndToEnd.Tests.E1000;

/// <summary>Polynic's 82540EM driven by Debian's stock e1000 driver, traffic through a tap into a namespace.</summary>
[Collection(RealGuests.Name)]
public sealed partial class E1000GuestTests(RigFixture rig)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:a1:b2:c3");
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    // The guest's busybox sh runs its own applets before searching PATH, so iproute2's ip and
    // iputils' ping (multicast addresses, don't-fragment) are called by full path.

    private Task<NicRig<E1000Device>> StartAsync(string name, int mtu = 1500) =>
        NicRig<E1000Device>.StartAsync(rig.Rig, new E1000Device(new NicSettings(Mac)), name, mtu);

    [Fact]
    public async Task Probe_is_clean_link_is_up_and_ping_and_counters_agree()
    {
        await using var r = await StartAsync("e1000-probe");
        await r.ConfigureGuestAsync();
        var dmesg = await r.Guest.RunCheckedAsync("dmesg", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("EEPROM", dmesg);
        Assert.DoesNotContain("did not detect valid phy", dmesg);
        Assert.Contains("Intel(R) PRO/1000 Network Connection", dmesg);
        Assert.Contains("NIC Link is Up 1000 Mbps Full Duplex", dmesg);
        Assert.Equal(Mac.ToString(), (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        var ethtool = await r.Guest.RunCheckedAsync("ethtool eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("Link detected: yes", ethtool);
        Assert.Contains("Speed: 1000Mb/s", ethtool);

        var before = await StatisticsAsync(r);
        var ping = await r.Guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1));
        PingOutput.AssertAllAnswered(ping, 100);
        var after = await StatisticsAsync(r);

        // 100 echo requests out and 100 replies in, plus at most a few ARP/ND frames either way.
        Assert.InRange(after["tx_packets"] - before["tx_packets"], 100, 110);
        Assert.InRange(after["rx_packets"] - before["rx_packets"], 100, 110);
        Assert.InRange(after["tx_bytes"] - before["tx_bytes"], 100 * 98, 110 * 98 + 10 * 64);
        Assert.Equal(0, after["rx_errors"] + after["tx_errors"] + after["rx_missed_errors"]);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Ethtool_offline_self_test_passes_every_test()
    {
        await using var r = await StartAsync("e1000-selftest");
        await r.ConfigureGuestAsync();
        var result = await r.Guest.RunAsync("ethtool -t eth0 offline", TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("The test result is PASS", result.Output);
        foreach (var test in new[] { "Register test", "Eeprom test", "Interrupt test", "Loopback test", "Link test" })
            Assert.Matches(new Regex($@"{test}\s+\((on/)?offline\)\s+0\b"), result.Output);
        // The device must be usable again after the self-test's resets.
        await r.ConfigureGuestAfterResetAsync();
        Assert.Contains(" 0% packet loss", await r.Guest.RunCheckedAsync($"ping -c 5 -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Iperf3_both_directions_and_64_MiB_files_both_ways_arrive_intact()
    {
        await using var r = await StartAsync("e1000-bulk");
        await r.ConfigureGuestAsync();
        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        var up = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5", Long);
        var down = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5 -R", Long);
        Assert.Matches(ReceiverRate(), up);
        Assert.Matches(ReceiverRate(), down);

        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 64);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Mtu_9000_works_end_to_end()
    {
        await using var r = await StartAsync("e1000-jumbo", mtu: 9000);
        await r.ConfigureGuestAsync(mtu: 9000);
        // Don't fragment: the 9000-byte datagram must cross as one frame each way.
        var jumbo = await r.Guest.RunCheckedAsync($"/usr/bin/ping -c 5 -s 8972 -M do -W 2 {r.PeerAddress}", TimeSpan.FromSeconds(60));
        PingOutput.AssertAllAnswered(jumbo, 5);
        Assert.Equal(0, r.Device.Counters.RxTooLong);
    }

    /// <summary>
    /// A VLAN sub-interface in the guest talks to a station on VLAN 42. The host kernel here has
    /// no 802.1Q support (CONFIG_VLAN_8021Q is off), so the host side of the VLAN is Polynic's own
    /// switch: the e1000 sits on a trunk port, the station on an access port of VLAN 42, and the
    /// switch tags and untags as a hardware switch would.
    /// </summary>
    [Fact]
    public async Task Vlan_subinterface_reaches_a_station_on_that_vlan_only()
    {
        using var lan = new L2Switch("lan");
        var trunk = lan.CreatePort("guest", SwitchPortOptions.Trunk([42, 43]));
        byte[] stationIp = [10, 78, 0, 1];
        var station = new EchoStation([0x02, 0, 0, 0, 0x42, 0x01], stationIp);
        var access = lan.CreatePort("station", SwitchPortOptions.Access(42));
        station.Port = access;
        access.Start(station);
        var device = new E1000Device(new NicSettings(Mac));
        await using var served = await ServedDevice<E1000Device>.StartAsync(device, "e1000-vlan");
        device.AttachPort(trunk);
        await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "e1000-vlan", VfioUserSockets = [served.SocketPath] });

        await guest.RunCheckedAsync(
            "ip link set eth0 up && /usr/bin/ip link add link eth0 name eth0.42 type vlan id 42 && ip addr add 10.78.0.2/24 dev eth0.42 && ip link set eth0.42 up && " +
            "/usr/bin/ip link add link eth0 name eth0.43 type vlan id 43 && ip addr add 10.79.0.2/24 dev eth0.43 && ip link set eth0.43 up && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier)\" = 1 ] && exit 0; sleep 0.1; done; exit 1",
            TimeSpan.FromSeconds(30));
        var ping = await guest.RunCheckedAsync("ping -c 10 -i 0.05 -W 2 10.78.0.1", TimeSpan.FromSeconds(60));
        PingOutput.AssertAllAnswered(ping, 10);
        Assert.True(station.EchoRepliesSent >= 10);
        // The VLAN offload really ran: the guest asked for tag insertion and stripping.
        Assert.Contains("rx-vlan-offload: on", await guest.RunCheckedAsync("ethtool -k eth0", TimeSpan.FromSeconds(10)));

        // The same address asked for on VLAN 43 never reaches the station on VLAN 42.
        var other = await guest.RunAsync("ping -c 3 -W 1 10.79.0.1", TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, other.ExitCode);
        byte[] otherIp = [10, 79, 0, 1];
        Assert.DoesNotContain(station.Received, f => f.AsSpan().IndexOf(otherIp) >= 0);
    }

    [Fact]
    public async Task Receive_filter_follows_multicast_membership_allmulti_and_promiscuous_mode()
    {
        await using var r = await StartAsync("e1000-filter");
        await r.ConfigureGuestAsync();
        await r.Peer.RunAsync($"ip route add 224.0.0.0/4 dev {r.TapName}");
        // A frame to a group the guest did not join is dropped by the NIC's filter.
        Assert.Equal(0, await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.1.2.3")));
        // Joining 01:00:5e:01:02:03 (the MAC of 239.1.2.3) programs the multicast table.
        await r.Guest.RunCheckedAsync("/usr/bin/ip maddr add 01:00:5e:01:02:03 dev eth0", TimeSpan.FromSeconds(5));
        long joined = await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.1.2.3"));
        Assert.True(joined is 5 or 6, $"received {joined} frames to a joined group; device counters: {string.Join(", ", r.Device.Counters.Snapshot())}");
        Assert.Equal(0, await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.9.9.9")));
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 allmulticast on", TimeSpan.FromSeconds(5));
        Assert.InRange(await ReceivedAfterAsync(r, () => SendMulticastAsync(r, "239.9.9.9")), 5, 6);
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 allmulticast off", TimeSpan.FromSeconds(5));

        // Unicast to another station's MAC: only seen in promiscuous mode.
        await r.Peer.RunAsync($"ip neigh replace 10.77.{r.Subnet}.99 lladdr 02:00:00:00:00:99 dev {r.TapName}");
        Assert.Equal(0, await ReceivedAfterAsync(r, () => r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 10.77.{r.Subnet}.99", check: false)));
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 promisc on", TimeSpan.FromSeconds(5));
        Assert.InRange(await ReceivedAfterAsync(r, () => r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 10.77.{r.Subnet}.99", check: false)), 5, 6);
    }

    private static Task SendMulticastAsync<T>(NicRig<T> r, string group) where T : NicDevice =>
        r.Peer.RunToolAsync($"/usr/bin/ping -c 5 -i 0.2 -W 1 -I {r.TapName} {group}", TimeSpan.FromSeconds(30), check: false);

    /// <summary>Frames the guest kernel received on eth0 while <paramref name="action"/> ran.</summary>
    private static async Task<long> ReceivedAfterAsync<T>(NicRig<T> r, Func<Task> action) where T : NicDevice
    {
        long before = await RxPacketsAsync(r);
        await action();
        await Task.Delay(300);
        return await RxPacketsAsync(r) - before;
    }

    private static async Task<long> RxPacketsAsync<T>(NicRig<T> r) where T : NicDevice =>
        long.Parse((await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/statistics/rx_packets", TimeSpan.FromSeconds(5))).Trim());

    private static async Task<Dictionary<string, long>> StatisticsAsync<T>(NicRig<T> r) where T : NicDevice
    {
        var text = await r.Guest.RunCheckedAsync("ethtool -S eth0", TimeSpan.FromSeconds(10));
        return text.Split('\n').Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && long.TryParse(p[1].Trim(), out _))
            .ToDictionary(p => p[0].Trim(), p => long.Parse(p[1].Trim()));
    }

    [GeneratedRegex(@"\d+(\.\d+)? [KMG]bits/sec\s+\S*\s*receiver")]
    private static partial Regex ReceiverRate();
}
