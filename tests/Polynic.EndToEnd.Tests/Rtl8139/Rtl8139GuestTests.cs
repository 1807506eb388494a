using System.Diagnostics;
using System.Text.RegularExpressions;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Core.Modules;
using Polynic.Modules;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Rtl8139;

/// <summary>
/// Polynic's RTL8139 driven by Debian's stock drivers: revision 0x10 binds 8139too (C mode: transmit
/// slots and the receive ring buffer), revision 0x20 binds 8139cp (C+ descriptor rings). Traffic goes
/// through a tap into a namespace. The device comes from the RTL8139 *module*: its compiled
/// assembly is loaded at run time into a collectible context of a module catalog, as
/// <c>polynic serve</c> does; nothing here constructs it directly.
/// </summary>
[Collection(RealGuests.Name)]
public sealed partial class Rtl8139GuestTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(4);

    [Fact]
    public Task Rtl8139C_is_driven_by_8139too_ping_and_16_MiB_both_ways() =>
        RunAsync(0x10, "8139too", MacAddress.Parse("52:54:00:81:39:10"));

    [Fact]
    public Task Rtl8139CPlus_is_driven_by_8139cp_ping_and_16_MiB_both_ways() =>
        RunAsync(0x20, "8139cp", MacAddress.Parse("52:54:00:81:39:20"));

    private async Task RunAsync(byte revision, string driver, MacAddress mac)
    {
        var cache = Directory.CreateTempSubdirectory("polynic-modules-");
        try
        {
            var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = cache.FullName });
            var module = catalog.Load(Path.Combine(AppContext.BaseDirectory, "Polynic.Personalities.Rtl8139.dll"));
            Assert.True(module.State == ModuleState.Loaded, module.ToString());
            var device = (NicDevice)catalog.Create(revision >= 0x20 ? "rtl8139cp" : "rtl8139",
                new PersonalitySettings(new NicSettings(mac), [new("revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture))]));
            Assert.NotSame(System.Runtime.Loader.AssemblyLoadContext.Default, System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(device.GetType().Assembly));
            await RunAsync(device, driver, mac);
        }
        finally
        {
            cache.Delete(recursive: true);
        }
    }

    private async Task RunAsync(NicDevice device, string driver, MacAddress mac)
    {
        await using var r = await NicRig<NicDevice>.StartAsync(rig.Rig, device, $"rtl8139-{driver}");
        await r.ConfigureGuestAsync();

        var bound = await r.Guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", TimeSpan.FromSeconds(10));
        Assert.Equal(driver, bound.Trim());
        Assert.Equal(mac.ToString(), (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        Assert.Equal("1", (await r.Guest.RunCheckedAsync("cat /sys/class/net/eth0/carrier", TimeSpan.FromSeconds(5))).Trim());

        var ethtool = await r.Guest.RunCheckedAsync("ethtool eth0", TimeSpan.FromSeconds(10));
        Assert.Contains("Link detected: yes", ethtool);
        Assert.Contains("Speed: 100Mb/s", ethtool);
        Assert.Contains("Duplex: Full", ethtool);

        var ping = await r.Guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {r.PeerAddress}", TimeSpan.FromMinutes(2));
        PingOutput.AssertAllAnswered(ping, 100);

        var copy = await FileTransfer.AssertBothWaysAsync(r.Guest, r.Peer, r.PeerAddress, r.GuestAddress, 16, timeout: Long);
        output.WriteLine($"{driver}: 16 MiB host -> guest in {copy.HostToGuest.TotalSeconds:0.0} s, guest -> host in {copy.GuestToHost.TotalSeconds:0.0} s");

        if (driver == "8139cp")
        {
            // 8139cp hands TCP to the chip as LargeSend descriptors when TSO is on (it is by default here; made sure of).
            await r.Guest.RunCheckedAsync("ethtool -K eth0 tso on", TimeSpan.FromSeconds(10));
            long segmentsBefore = r.Device.Counters.TxSegments;
            var clock = Stopwatch.StartNew();
            var again = FileTransfer.Sha256Of(await r.Peer.RunToolAsync($"busybox wget -q -O - {copy.GuestFileUrl} | sha256sum", Long));
            Assert.Equal(copy.GuestFileSha256, again);
            output.WriteLine($"{driver}: 16 MiB guest -> host with TSO in {clock.Elapsed.TotalSeconds:0.0} s, {r.Device.Counters.TxSegments - segmentsBefore} segments from large sends");
            Assert.True(r.Device.Counters.TxSegments > segmentsBefore, "no large send reached the device");
        }
        output.WriteLine(string.Join(", ", r.Device.Counters.Snapshot().Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));

        var dmesg = await r.Guest.RunCheckedAsync("dmesg", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("timeout", dmesg, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("BUG", dmesg);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }
}
