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
        AssertAllAnswered(ping, 100);

        // Host -> guest: busybox httpd in the namespace serves a random file; the guest fetches it.
        await r.Peer.RunToolAsync($"dd if=/dev/urandom of={r.Peer.ScratchInRoot}/blob bs=1M count=16 2>/dev/null");
        var hostSum = Sha(await r.Peer.RunToolAsync($"sha256sum {r.Peer.ScratchInRoot}/blob"));
        r.Peer.StartTool($"busybox httpd -f -p 8080 -h {r.Peer.ScratchInRoot}");
        await Task.Delay(300);
        var clock = Stopwatch.StartNew();
        var guestSum = Sha(await r.Guest.RunCheckedAsync($"wget -q -O /tmp/blob http://{r.PeerAddress}:8080/blob && sha256sum /tmp/blob", Long));
        Assert.Equal(hostSum, guestSum);
        output.WriteLine($"{driver}: 16 MiB host -> guest in {clock.Elapsed.TotalSeconds:0.0} s");

        // Guest -> host: the guest serves its own random file; the namespace fetches it.
        await r.Guest.RunCheckedAsync("rm /tmp/blob; mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/out bs=1M count=16 2>/dev/null && httpd -p 8081 -h /tmp/www", Long);
        var sent = Sha(await r.Guest.RunCheckedAsync("sha256sum /tmp/www/out", Long));
        clock.Restart();
        var received = Sha(await r.Peer.RunToolAsync($"busybox wget -q -O - http://{r.GuestAddress}:8081/out | sha256sum", Long));
        Assert.Equal(sent, received);
        output.WriteLine($"{driver}: 16 MiB guest -> host in {clock.Elapsed.TotalSeconds:0.0} s");

        if (driver == "8139cp")
        {
            // 8139cp hands TCP to the chip as LargeSend descriptors when TSO is on (it is by default here; made sure of).
            await r.Guest.RunCheckedAsync("ethtool -K eth0 tso on", TimeSpan.FromSeconds(10));
            long segmentsBefore = r.Device.Counters.TxSegments;
            clock.Restart();
            var again = Sha(await r.Peer.RunToolAsync($"busybox wget -q -O - http://{r.GuestAddress}:8081/out | sha256sum", Long));
            Assert.Equal(sent, again);
            output.WriteLine($"{driver}: 16 MiB guest -> host with TSO in {clock.Elapsed.TotalSeconds:0.0} s, {r.Device.Counters.TxSegments - segmentsBefore} large sends");
            Assert.True(r.Device.Counters.TxSegments > segmentsBefore, "no large send reached the device");
        }
        output.WriteLine(string.Join(", ", r.Device.Counters.Snapshot().Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));

        var dmesg = await r.Guest.RunCheckedAsync("dmesg", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("timeout", dmesg, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("BUG", dmesg);
        Assert.Equal(0, r.Device.Counters.DmaFaults + r.Device.Counters.DescriptorFaults);
        Assert.Null(r.Served.Function.FailureReason);
    }

    private static void AssertAllAnswered(string output, int count)
    {
        var m = PingSummary().Match(output);
        Assert.True(m.Success, "no ping summary in:\n" + output);
        Assert.Equal((count, count), (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)));
    }

    private static string Sha(string output) => output.Trim().Split(' ', 2)[0];

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) (?:packets )?received")]
    private static partial Regex PingSummary();
}
