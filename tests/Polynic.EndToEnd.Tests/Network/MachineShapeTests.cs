using Polynic.Core.Nic;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;
using static Polynic.EndToEnd.Tests.Network.PingOutput;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// The same stock drivers on other machine shapes than the other tests' (pc, 2 vCPUs, 512 MiB):
/// q35 (PCI Express) with one vCPU and 6 GiB, so part of the guest's RAM (and of the buffers its
/// drivers hand the device) lies above 4 GiB, where QEMU maps the RAM beyond the 32-bit hole as a
/// second DMA region of the same memory file; and 4 vCPUs with a 4-pair virtio-net.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class MachineShapeTests(RigFixture rig)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:5a:00:01");

    [Theory]
    [InlineData("virtio-net", "q35", 1, 6144, 1)]
    [InlineData("e1000", "q35", 1, 6144, 1)]
    [InlineData("e1000e", "q35", 1, 6144, 1)]   // the 82574L is QEMU's default NIC on q35
    [InlineData("virtio-net", "pc", 4, 1024, 4)]
    public async Task Ping_and_16_MiB_files_cross_both_ways_intact(string personality, string machine, int cpus, int memoryMiB, int queuePairs)
    {
        NicDevice device = personality switch
        {
            "e1000" => new E1000Device(new NicSettings(Mac)),
            "e1000e" => E1000Device.Create82574L(new NicSettings(Mac)),
            _ => new VirtioNetDevice(new NicSettings(Mac), queuePairs),
        };
        await using var r = await NicRig<NicDevice>.StartAsync(rig.Rig, device, "shape-" + personality,
            shape: o => o with { Machine = machine, Cpus = cpus, MemoryMiB = memoryMiB });
        long kibibytes = long.Parse((await r.Guest.RunCheckedAsync("awk '/MemTotal/ {print $2}' /proc/meminfo", TimeSpan.FromSeconds(5))).Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        // 6 GiB: more RAM than fits below 4 GiB, so part of it (and of the buffers) is above.
        Assert.True(kibibytes > (memoryMiB - 256) * 1024L, $"MemTotal {kibibytes} kB");
        Assert.Equal(cpus.ToString(System.Globalization.CultureInfo.InvariantCulture), (await r.Guest.RunCheckedAsync("nproc", TimeSpan.FromSeconds(5))).Trim());
        await r.ConfigureGuestAsync();
        // Linux's virtio_net enables min(queue pairs, CPUs) pairs by itself.
        if (device is VirtioNetDevice virtio) Assert.Equal(Math.Min(queuePairs, cpus), virtio.ActiveQueuePairs);
        AssertAllAnswered(await r.Guest.RunCheckedAsync($"ping -c 20 -i 0.05 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(1)), 20);
        await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, mebibytes: 16);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }
}
