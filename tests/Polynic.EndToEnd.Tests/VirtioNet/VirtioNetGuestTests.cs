using System.Text.RegularExpressions;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Personalities.VirtioNet;

namespace Polynic.EndToEnd.Tests.VirtioNet;

/// <summary>Polynic's modern virtio-net driven by Debian's stock virtio_pci + virtio_net, traffic through a tap into a namespace.</summary>
[Collection(RealGuests.Name)]
public sealed partial class VirtioNetGuestTests(RigFixture rig, Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:b1:c2:d3");
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    // busybox sh prefers its applets: iproute2's ip and iputils' ping are called by full path.

    private Task<NicRig<VirtioNetDevice>> StartAsync(string name, int queuePairs = 1) =>
        NicRig<VirtioNetDevice>.StartAsync(rig.Rig, new VirtioNetDevice(new NicSettings(Mac), queuePairs), name);

    [Fact]
    public async Task Driver_binds_with_msix_per_queue_vectors_link_is_up_and_100_pings_are_answered()
    {
        await using var r = await StartAsync("virtio-probe");
        await r.ConfigureGuestAsync();
        Assert.Equal(Mac.ToString(), (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        Assert.Contains("virtio_net", await r.Guest.RunCheckedAsync("readlink /sys/class/net/eth0/device/driver", TimeSpan.FromSeconds(5)));
        var interrupts = await r.Guest.RunCheckedAsync("grep virtio /proc/interrupts", TimeSpan.FromSeconds(5));
        Assert.Matches(@"PCI-MSIX.*virtio\d+-config", interrupts);
        Assert.Matches(@"PCI-MSIX.*virtio\d+-input\.0", interrupts);
        Assert.Matches(@"PCI-MSIX.*virtio\d+-output\.0", interrupts);

        var ping = await r.Guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1));
        AssertAllAnswered(ping, 100);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Without_msi_the_driver_falls_back_to_intx_and_ping_and_16_MiB_files_cross_both_ways()
    {
        // pci=nomsi: no MSI or MSI-X for any device, so virtio_pci takes the shared INTx line and
        // reads the ISR status to learn why (virtio 1.2, 4.1.4.5).
        await using var r = await NicRig<VirtioNetDevice>.StartAsync(rig.Rig, new VirtioNetDevice(new NicSettings(Mac)), "virtio-intx",
            extraKernelArguments: "pci=nomsi");
        await r.ConfigureGuestAsync();
        var interrupts = await r.Guest.RunCheckedAsync("grep virtio /proc/interrupts", TimeSpan.FromSeconds(5));
        Assert.Matches(@"IO-APIC.*virtio\d+", interrupts);
        Assert.DoesNotMatch("PCI-MSI", interrupts);

        var ping = await r.Guest.RunCheckedAsync($"ping -c 50 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1));
        AssertAllAnswered(ping, 50);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Ethtool_shows_checksum_and_tso_on_and_iperf3_and_64_MiB_files_cross_both_ways_intact()
    {
        await using var r = await StartAsync("virtio-bulk");
        await r.ConfigureGuestAsync();
        var features = await r.Guest.RunCheckedAsync("ethtool -k eth0", TimeSpan.FromSeconds(10));
        Assert.Matches(@"tx-checksumming: on", features);
        Assert.Matches(@"tcp-segmentation-offload: on", features);

        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        var up = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5", Long);
        var down = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 5 -R", Long);
        Assert.Matches(ReceiverRate(), up);
        Assert.Matches(ReceiverRate(), down);
        // The guest's TSO frames went to the tap whole.
        Assert.True(r.Device.Counters.TxSegments > 0, "no GSO frame was transmitted");

        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 64);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Equal(0, r.Device.Counters.RxOffloadErrors);
        Assert.Equal(0, r.Served.Port!.Counters.ReceiveHeaderErrors);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Guest_tso_is_in_effect_host_to_guest_tcp_arrives_as_gso_frames_larger_than_the_mtu()
    {
        await using var r = await StartAsync("virtio-gso");
        await r.ConfigureGuestAsync();
        // The driver negotiated GUEST_TSO4/6 (Linux shows them as rx-gro-hw) and the tap was asked for TSO.
        var features = await r.Guest.RunCheckedAsync("ethtool -k eth0", TimeSpan.FromSeconds(10));
        output.WriteLine(string.Join('\n', features.Split('\n').Where(l => l.Contains("gro") || l.Contains("rx-checksum"))));
        Assert.Matches(@"rx-gro-hw: on", features);
        Assert.Equal(VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6,
            r.Device.Transport.NegotiatedFeatures & (VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6));
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, r.Served.Port!.ReceiveOffloads);

        r.Peer.StartTool($"iperf3 -s -B {r.PeerAddress}");
        await Task.Delay(500);
        long frames = r.Device.Counters.RxFrames, bytes = r.Device.Counters.RxBytes, gso = r.Device.Counters.RxGsoFrames;
        var down = await r.Guest.RunCheckedAsync($"iperf3 -c {r.PeerAddress} -t 3 -R", Long);
        Assert.Matches(ReceiverRate(), down);
        frames = r.Device.Counters.RxFrames - frames;
        bytes = r.Device.Counters.RxBytes - bytes;
        gso = r.Device.Counters.RxGsoFrames - gso;
        output.WriteLine($"host->guest: {frames} frames, {bytes} bytes ({(double)bytes / Math.Max(1, frames):F0} bytes/frame), {gso} GSO frames; " +
            string.Join(", ", r.Device.Counters.Snapshot().Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));
        Assert.True(gso > 0, "no GSO frame reached the guest");
        // Whole GSO frames: on average far larger than an MTU-sized frame (1514 bytes).
        Assert.True(bytes / Math.Max(1, frames) > 3000, $"{bytes / Math.Max(1, frames)} bytes per frame");
        Assert.Equal(0, r.Device.Counters.RxSegments + r.Device.Counters.RxOffloadErrors);
        Assert.Null(r.Served.Function.FailureReason);
    }

    [Fact]
    public async Task Multiqueue_ethtool_sets_combined_channels_and_traffic_still_flows()
    {
        await using var r = await StartAsync("virtio-mq", queuePairs: 2);
        await r.ConfigureGuestAsync();
        var interrupts = await r.Guest.RunCheckedAsync("grep virtio /proc/interrupts", TimeSpan.FromSeconds(5));
        Assert.Matches(@"virtio\d+-input\.1", interrupts);
        Assert.Matches(@"virtio\d+-output\.1", interrupts);
        await r.Guest.RunCheckedAsync("ethtool -L eth0 combined 2", TimeSpan.FromSeconds(10));
        Assert.Matches(@"Combined:\s+2", await r.Guest.RunCheckedAsync("ethtool -l eth0", TimeSpan.FromSeconds(10)));
        Assert.Equal(2, r.Device.ActiveQueuePairs);
        AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await r.Guest.RunCheckedAsync("ethtool -L eth0 combined 1", TimeSpan.FromSeconds(10));
        Assert.Equal(1, r.Device.ActiveQueuePairs);
        AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 10 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 10);
    }

    [Fact]
    public async Task Promiscuous_and_allmulticast_reach_the_device_through_the_control_queue()
    {
        await using var r = await StartAsync("virtio-ctrl");
        await r.ConfigureGuestAsync();
        Assert.False(r.Device.Filter.PromiscuousUnicast);
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 promisc on", TimeSpan.FromSeconds(5));
        await WaitForAsync(() => r.Device.Filter.PromiscuousUnicast);
        await r.Guest.RunCheckedAsync("/usr/bin/ip link set eth0 promisc off && /usr/bin/ip link set eth0 allmulticast on", TimeSpan.FromSeconds(5));
        await WaitForAsync(() => !r.Device.Filter.PromiscuousUnicast && r.Device.Filter.AllMulticast);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 50 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition());
    }

    private static void AssertAllAnswered(string output, int count)
    {
        var m = PingSummary().Match(output);
        Assert.True(m.Success, "no ping summary in:\n" + output);
        Assert.Equal((count, count), (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)));
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) (?:packets )?received")]
    private static partial Regex PingSummary();

    [GeneratedRegex(@"\d+(\.\d+)? [KMG]bits/sec\s+\S*\s*receiver")]
    private static partial Regex ReceiverRate();
}
