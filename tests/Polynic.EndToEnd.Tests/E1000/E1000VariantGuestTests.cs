using System.Diagnostics;
using System.Text.Json;
using Polynic.EndToEnd.Tests.Modules;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.E1000;

/// <summary>
/// The e1000 variants shipped as descriptors without code — modules/e1000-82545em (8086:100F) and
/// modules/e1000-82544gc (8086:100C), each reusing the e1000 module's behaviour under its own PCI
/// identity, EEPROM, PHY identifier and bus — loaded by <c>polynic serve --modules</c> from the
/// modules directory <c>./polynic</c> builds, as a user runs it. One guest per variant checks, in
/// that one boot: the stock e1000 driver binds to the variant's IDs with a clean probe (EEPROM
/// checksum, PHY detection, the bus the variant reports, the EEPROM size it reads), link up,
/// ping 100/100 and 16 MiB both ways with equal SHA-256.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class E1000VariantGuestTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(4);

    [Theory]
    // name, device ID, bus line e1000_probe prints, EEPROM bytes (ethtool -e), subnet
    [InlineData("e1000-82545em", "100f", "(PCI:66MHz:64-bit)", 512, 245)]
    [InlineData("e1000-82544gc", "100c", "(PCI:33MHz:32-bit)", 128, 244)]
    public async Task The_variant_loaded_by_polynic_serve_is_driven_by_linux_e1000_ping_and_16_MiB_both_ways(
        string personality, string deviceId, string bus, int eepromBytes, int subnet)
    {
        var clock = Stopwatch.StartNew();
        await PolynicProcess.EnsureBuiltAsync();
        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-variant-");
        try
        {
            // The modules directory ./polynic fills: compiled personalities and modules/ (descriptors included).
            string modules = Path.Combine(PolynicProcess.Artifacts, "modules");
            Assert.True(File.Exists(Path.Combine(modules, personality, personality + ".xml")), $"./polynic did not copy modules/{personality} into {modules}");
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), modules);
            Assert.Contains(server.Output.Split('\n'), l => l.Contains($"module {personality} (descriptor, SDK ", StringComparison.Ordinal)
                && l.Contains($"loaded: {personality} (behaviour from module Polynic.Personalities.E1000)", StringComparison.Ordinal));
            var listed = JsonDocument.Parse(await server.ManageCheckedAsync("modules", "list")).RootElement.EnumerateArray()
                .Single(m => m.GetProperty("name").GetString() == personality);
            Assert.Equal("loaded", listed.GetProperty("state").GetString());
            Assert.Equal("Polynic.Personalities.E1000", listed.GetProperty("dependsOn").GetString());

            string socket = Path.Combine(work.FullName, "nic.sock");
            string tap = $"pnv{subnet}", mac = $"52:54:00:8e:{subnet:x2}:01";
            string peerAddress = $"10.77.{subnet}.1", guestAddress = $"10.77.{subnet}.2";
            await server.ManageCheckedAsync("nics", "add", $"{personality}:{socket},name=variant,tap={tap},mac={mac}");
            await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            await peer.AdoptAsync(tap, $"{peerAddress}/24");
            var ready = clock.Elapsed;
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = personality, VfioUserSockets = [socket] });
            var booted = clock.Elapsed;

            // The stock driver took the variant's identity.
            Assert.Equal("e1000", (await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", TimeSpan.FromSeconds(10))).Trim());
            var ids = (await guest.RunCheckedAsync(
                "cd /sys/class/net/eth0/device && cat vendor device subsystem_vendor subsystem_device", TimeSpan.FromSeconds(10))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["0x8086", "0x" + deviceId, "0x8086", "0x" + deviceId], ids.Select(i => i.Trim()));
            Assert.Contains("8086:" + deviceId, await guest.RunCheckedAsync("lspci -n -s $(basename $(readlink /sys/class/net/eth0/device))", TimeSpan.FromSeconds(10)));
            Assert.Equal(mac, (await guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());

            await guest.RunCheckedAsync($"ip link set eth0 up && ip addr add {guestAddress}/24 dev eth0 && " + Lan.LanRig.WaitForCarrier(1), TimeSpan.FromSeconds(30));
            var dmesg = await guest.RunCheckedAsync("dmesg", TimeSpan.FromSeconds(10));
            output.WriteLine(string.Join('\n', dmesg.Split('\n').Where(l => l.Contains("e1000", StringComparison.Ordinal))));
            Assert.Contains("Intel(R) PRO/1000 Network Connection", dmesg);
            Assert.Contains($"{bus} {mac}", dmesg);                       // e1000_get_bus_info read STATUS
            Assert.Contains("NIC Link is Up 1000 Mbps Full Duplex", dmesg);
            Assert.DoesNotContain("EEPROM", dmesg);                         // checksum and reads fine
            Assert.DoesNotContain("Hardware Error", dmesg);                 // e1000_init_hw: PHY detected
            Assert.DoesNotContain("Invalid MAC", dmesg);
            Assert.Contains("Link detected: yes", await guest.RunCheckedAsync("ethtool eth0", TimeSpan.FromSeconds(10)));
            // The EEPROM the driver sized (EECD.SIZE for the 82545, always 64 words for the 82544), with the device ID in word 0x0D.
            Assert.Equal(eepromBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                (await guest.RunCheckedAsync("ethtool -e eth0 raw on | wc -c", TimeSpan.FromSeconds(30))).Trim());
            Assert.Contains(deviceId, await guest.RunCheckedAsync("ethtool -e eth0 raw on offset 26 length 2 | od -An -tx2", TimeSpan.FromSeconds(30)));

            var ping = await guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {peerAddress}", TimeSpan.FromMinutes(2));
            PingOutput.AssertAllAnswered(ping, 100);
            var pinged = clock.Elapsed;
            var copy = await FileTransfer.AssertBothWaysAsync(guest, peer, peerAddress, guestAddress, 16, timeout: Long);

            var nic = Assert.Single(JsonDocument.Parse(await server.ManageCheckedAsync("nics", "list")).RootElement.EnumerateArray());
            Assert.Equal("serving", nic.GetProperty("state").GetString());
            Assert.Equal(personality, nic.GetProperty("personality").GetString());
            Assert.DoesNotContain("EEPROM", await guest.RunCheckedAsync("dmesg", TimeSpan.FromSeconds(10)));
            output.WriteLine($"{personality}: server and NIC ready {ready.TotalSeconds:0.0} s, guest booted {(booted - ready).TotalSeconds:0.0} s, " +
                $"probe checks and ping 100/100 {(pinged - booted).TotalSeconds:0.0} s, 16 MiB host -> guest {copy.HostToGuest.TotalSeconds:0.0} s, " +
                $"guest -> host {copy.GuestToHost.TotalSeconds:0.0} s, total {clock.Elapsed.TotalSeconds:0.0} s");
            await guest.DisposeAsync();
            Assert.Equal(0, await server.StopAsync());
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
