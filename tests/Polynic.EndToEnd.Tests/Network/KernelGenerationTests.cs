using Polynic.Core.Nic;
using Polynic.Personalities.E1000;
using Polynic.Personalities.Rtl8139;
using Polynic.Personalities.VirtioNet;
using Polynic.Rig;
using static Polynic.EndToEnd.Tests.Network.PingOutput;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// The stock drivers of an older kernel generation than the other tests' (Debian 13, Linux 6.12):
/// Debian 12's Linux 6.1 with its virtio_net, e1000, e1000e and 8139too. The rig takes that kernel package
/// from bookworm into a root of its own (prepared on first use and cached like the default one).
/// </summary>
[Collection(RealGuests.Name)]
public sealed class KernelGenerationTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:61:00:01");
    private static readonly GuestRig Linux61 = new(new GuestRigOptions { Kernel = new KernelSource("linux-image-amd64", "bookworm") });

    [Theory]
    [InlineData("virtio-net")]
    [InlineData("e1000")]
    [InlineData("e1000e")]
    [InlineData("igb")]
    [InlineData("rtl8139")]
    public async Task Linux_6_1_drivers_ping_and_move_16_MiB_files_both_ways_intact(string personality)
    {
        NicDevice device = personality switch
        {
            "e1000" => new E1000Device(new NicSettings(Mac)),
            "e1000e" => E1000Device.Create82574L(new NicSettings(Mac)),
            "igb" => new Polynic.Personalities.E1000.Igb.IgbDevice(new NicSettings(Mac)),
            "rtl8139" => new Rtl8139Device(new NicSettings(Mac)),
            _ => new VirtioNetDevice(new NicSettings(Mac), queuePairs: 2),
        };
        await using var r = await NicRig<NicDevice>.StartAsync(Linux61, device, "linux61-" + personality);
        Assert.StartsWith("6.1.", (await r.Guest.RunCheckedAsync("uname -r", TimeSpan.FromSeconds(5))).Trim());
        await r.ConfigureGuestAsync();
        if (device is VirtioNetDevice virtio)
        {
            await r.Guest.RunCheckedAsync("ethtool -L eth0 combined 2", TimeSpan.FromSeconds(20));
            Assert.Equal(2, virtio.ActiveQueuePairs);
        }
        AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }
}
