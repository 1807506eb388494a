using System.Text.Json;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// The seed's central claim, with real programs end to end: one running <c>polynic serve</c>
/// process and one running guest; QEMU's QMP <c>device_del</c> detaches a Polynic e1000,
/// <c>device_add</c> attaches a Polynic RTL8139 whose module the server loads at that moment, and
/// then an e1000 again. Neither QEMU nor Polynic restarts; the stock drivers bind each time and
/// traffic flows; Polynic's binaries are byte-identical before and after.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class LivePersonalitySwapTests(RigFixture rig, ITestOutputHelper output)
{
    private const string E1000Module = "Polynic.Personalities.E1000";
    private const string Rtl8139Module = "Polynic.Personalities.Rtl8139";
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task E1000_then_RTL8139_then_e1000_in_one_guest_session_with_module_loads_at_run_time()
    {
        await PolynicProcess.EnsureBuiltAsync();
        var before = PolynicProcess.HashBinaries();
        Assert.Contains(before.Keys, k => k.EndsWith(E1000Module + ".dll", StringComparison.Ordinal));
        Assert.Contains(before.Keys, k => k.EndsWith(Rtl8139Module + ".dll", StringComparison.Ordinal));

        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-swap-");
        Directory.CreateDirectory(Path.Combine(work.FullName, "modules")); // empty: every module comes later, over the control socket
        const string subnet = "10.77.251";
        string peerAddress = $"{subnet}.1", guestAddress = $"{subnet}.2";
        try
        {
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), Path.Combine(work.FullName, "modules"));
            int pid = server.Id;
            await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);

            // 1. e1000: module loaded into the running server, NIC added, guest boots with it.
            await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module(E1000Module));
            string first = await AddNicAsync(server, peer, work.FullName, "e1000", "nic-a", "pnswap0", "52:54:00:5a:00:01", peerAddress);
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "swap", VfioUserSockets = [first] });
            await ExpectDriverAsync(guest, "e1000", "52:54:00:5a:00:01", guestAddress);
            await TrafficAsync(guest, peer, peerAddress, guestAddress, 8080);

            // 2. Detach the e1000 in the running guest, drop it and its module, load the RTL8139's, attach it.
            await DetachAsync(guest, server, GuestOptions.VfioUserDeviceId(0), "nic-a");
            await server.ManageCheckedAsync("modules", "unload", E1000Module);
            await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module(Rtl8139Module));
            string second = await AddNicAsync(server, peer, work.FullName, "rtl8139", "nic-b", "pnswap1", "52:54:00:5a:00:02", peerAddress);
            await AttachAsync(guest, "swap1", second);
            await ExpectDriverAsync(guest, "8139too", "52:54:00:5a:00:02", guestAddress);
            await TrafficAsync(guest, peer, peerAddress, guestAddress, 8090);

            // 3. And back: the e1000 module is loaded again (a fresh load context), a new NIC attached.
            await DetachAsync(guest, server, "swap1", "nic-b");
            await server.ManageCheckedAsync("modules", "unload", Rtl8139Module);
            await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module(E1000Module));
            string third = await AddNicAsync(server, peer, work.FullName, "e1000", "nic-c", "pnswap2", "52:54:00:5a:00:03", peerAddress);
            await AttachAsync(guest, "swap2", third);
            await ExpectDriverAsync(guest, "e1000", "52:54:00:5a:00:03", guestAddress);
            await TrafficAsync(guest, peer, peerAddress, guestAddress, 8100);

            // One Polynic process throughout, nothing rebuilt or rewritten.
            Assert.False(server.HasExited, server.Output);
            Assert.Equal(pid, server.Id);
            Assert.Equal(before, PolynicProcess.HashBinaries());
            var modules = JsonDocument.Parse(await server.ManageCheckedAsync("modules", "list")).RootElement;
            Assert.Equal(E1000Module, Assert.Single(modules.EnumerateArray()).GetProperty("name").GetString());
            await guest.DisposeAsync();
            Assert.Equal(0, await server.StopAsync());
            output.WriteLine(server.Output);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<string> AddNicAsync(PolynicProcess server, NetworkNamespace peer, string work, string personality, string name, string tap, string mac, string peerAddress)
    {
        string socket = Path.Combine(work, name + ".sock");
        var added = JsonDocument.Parse(await server.ManageCheckedAsync("nics", "add", $"{personality}:{socket},name={name},tap={tap},mac={mac}")).RootElement;
        Assert.Equal(personality, added.GetProperty("personality").GetString());
        await peer.AdoptAsync(tap, peerAddress + "/24");
        return socket;
    }

    private static async Task ExpectDriverAsync(Guest guest, string driver, string mac, string address)
    {
        // Wait for the hot-plugged function to get its driver and interface (the first one is there at boot).
        var bound = await guest.RunCheckedAsync(
            $"for i in $(seq 1 200); do [ \"$(cat /sys/class/net/eth0/address 2>/dev/null)\" = {mac} ] && break; sleep 0.1; done; " +
            "basename $(readlink /sys/class/net/eth0/device/driver)", Short);
        Assert.Equal(driver, bound.Trim());
        await guest.RunCheckedAsync(
            $"ip link set eth0 up && ip addr add {address}/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
            Short);
    }

    private async Task TrafficAsync(Guest guest, NetworkNamespace peer, string peerAddress, string guestAddress, int port)
    {
        var ping = await guest.RunCheckedAsync($"ping -c 100 -i 0.02 -W 2 {peerAddress}", TimeSpan.FromMinutes(2));
        PingOutput.AssertAllAnswered(ping, 100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await FileTransfer.AssertBothWaysAsync(guest, peer, peerAddress, guestAddress, 16, port);
        output.WriteLine($"{(await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", Short)).Trim()}: ping 100/100, 16 MiB both ways in {clock.Elapsed.TotalSeconds:0} s");
    }

    private static async Task DetachAsync(Guest guest, PolynicProcess server, string deviceId, string nic)
    {
        await guest.QmpAsync($$$"""{"execute":"device_del","arguments":{"id":"{{{deviceId}}}"}}""");
        // The guest ejects the function (ACPI hot-plug), then QEMU drops it and closes its vfio-user connection.
        await guest.RunCheckedAsync("for i in $(seq 1 300); do [ -e /sys/class/net/eth0 ] || exit 0; sleep 0.1; done; echo eth0 still there; exit 1", Short);
        for (int i = 0; i < 100; i++)
        {
            var nics = JsonDocument.Parse(await server.ManageCheckedAsync("nics", "list")).RootElement;
            if (!nics.EnumerateArray().Single(n => n.GetProperty("name").GetString() == nic).GetProperty("connected").GetBoolean()) break;
            await Task.Delay(100);
        }
        await server.ManageCheckedAsync("nics", "remove", nic);
    }

    private static Task AttachAsync(Guest guest, string deviceId, string socket) =>
        guest.QmpAsync($$$$"""{"execute":"device_add","arguments":{"driver":"vfio-user-pci","id":"{{{{deviceId}}}}","socket":{"type":"unix","path":"{{{{socket}}}}"}}}""");
}
