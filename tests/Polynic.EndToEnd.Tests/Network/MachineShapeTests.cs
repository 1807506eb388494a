using Polynic.Core.Nic;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;
using Polynic.Rig.Guests;
using static Polynic.EndToEnd.Tests.Network.PingOutput;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// The same stock drivers on another machine shape than the other tests' (pc, 2 vCPUs, 512 MiB):
/// q35 (PCI Express), one vCPU, and 6 GiB, so part of the guest's RAM (and of the buffers its
/// drivers hand the device) lies above 4 GiB, where QEMU maps the RAM beyond the 32-bit hole as a
/// second DMA region of the same memory file.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class MachineShapeTests(RigFixture rig)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:5a:00:01");

    private static GuestOptions Shape(GuestOptions options) => options with { Machine = "q35", Cpus = 1, MemoryMiB = 6144 };

    [Theory]
    [InlineData("virtio-net")]
    [InlineData("e1000")]
    public async Task On_q35_with_one_vcpu_and_6_GiB_ping_and_16_MiB_files_cross_both_ways_intact(string personality)
    {
        NicDevice device = personality == "e1000" ? new E1000Device(new NicSettings(Mac)) : new VirtioNetDevice(new NicSettings(Mac));
        await using var r = await NicRig<NicDevice>.StartAsync(rig.Rig, device, "shape-" + personality, shape: Shape);
        // More RAM than fits below 4 GiB, so part of it (and of the buffers) is above.
        long kibibytes = long.Parse((await r.Guest.RunCheckedAsync("awk '/MemTotal/ {print $2}' /proc/meminfo", TimeSpan.FromSeconds(5))).Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(kibibytes > 4L * 1024 * 1024, $"MemTotal {kibibytes} kB");
        await r.ConfigureGuestAsync();
        AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }
}
