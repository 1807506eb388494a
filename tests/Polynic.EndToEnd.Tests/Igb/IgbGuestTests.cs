using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Personalities.E1000.Igb;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Igb;

/// <summary>Polynic's 82576 driven by Debian's stock igb driver, traffic through a tap into a namespace.</summary>
[Collection(RealGuests.Name)]
public sealed class IgbGuestTests(RigFixture rig, ITestOutputHelper output)
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
}
