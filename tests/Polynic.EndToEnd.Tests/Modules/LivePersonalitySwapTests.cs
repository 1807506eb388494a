using System.Text.Json;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// The seed's central claim, with real programs end to end: one running <c>polynic serve</c>
/// process and one running guest; QMP <c>device_add</c> attaches a Polynic card whose module the
/// server loads at that moment, <c>device_del</c> detaches it, its module is unloaded and the next
/// one loaded: e1000, virtio-net with two queue pairs, RTL8139, virtio-net again. Neither QEMU nor
/// Polynic restarts; the stock drivers bind each time and traffic flows; Polynic's binaries are
/// byte-identical before and after, and both processes exit cleanly at the end.
/// </summary>
/// <remarks>
/// The virtio-net cards are served with <c>msix=off</c> (INTx): QEMU 10.2 to 11.1 abort when a
/// vfio-user device with MSI-X is unplugged (README, "Hot-unplug and MSI-X"), whatever the server
/// does. On q35 every card sits behind a PCIe root port, since the root complex's own slots
/// cannot be hot-plugged.
/// </remarks>
[Collection(RealGuests.Name)]
public sealed class LivePersonalitySwapTests(RigFixture rig, ITestOutputHelper output)
{
    private const string E1000Module = "Polynic.Personalities.E1000";
    private const string VirtioNetModule = "Polynic.Personalities.VirtioNet";
    private const string Rtl8139Module = "Polynic.Personalities.Rtl8139";
    private static readonly TimeSpan Short = HotPlug.Short;

    private sealed record Card(string Module, string Personality, string Driver, string Options = "");

    private static readonly Card[] Sequence =
    [
        new(E1000Module, "e1000", "e1000"),
        new(VirtioNetModule, "virtio-net", "virtio_net", ",queuePairs=2,msix=off"),
        new(Rtl8139Module, "rtl8139", "8139too"),
        new(VirtioNetModule, "virtio-net", "virtio_net", ",queuePairs=2,msix=off"),
    ];

    [Theory]
    [InlineData("pc")]
    [InlineData("q35")]
    public async Task E1000_virtio_net_RTL8139_virtio_net_swapped_live_in_one_guest_session_with_module_loads_at_run_time(string machine)
    {
        await PolynicProcess.EnsureBuiltAsync();
        var before = PolynicProcess.HashBinaries();
        foreach (var module in Sequence.Select(c => c.Module).Distinct())
            Assert.Contains(before.Keys, k => k.EndsWith(module + ".dll", StringComparison.Ordinal));

        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-swap-");
        Directory.CreateDirectory(Path.Combine(work.FullName, "modules")); // empty: every module comes later, over the control socket
        string subnet = machine == "q35" ? "10.77.252" : "10.77.251";
        string peerAddress = $"{subnet}.1", guestAddress = $"{subnet}.2";
        try
        {
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), Path.Combine(work.FullName, "modules"));
            int pid = server.Id;
            await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            peer.StartTool("iperf3 -s");
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions
            {
                Name = $"swap-{machine}", Machine = machine, ExtraQemuArguments = HotPlug.RootPorts(machine),
            });
            int qemu = guest.ProcessId;

            string? loaded = null;
            for (int i = 0; i < Sequence.Length; i++)
            {
                var card = Sequence[i];
                if (loaded != card.Module)
                {
                    if (loaded is not null) await server.ManageCheckedAsync("modules", "unload", loaded);
                    await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module(card.Module));
                    loaded = card.Module;
                }
                string nic = $"nic{i}", device = $"swap{i}", mac = $"52:54:00:5a:00:0{i + 1}";
                string socket = await HotPlug.AddTapNicAsync(server, peer, work.FullName, card.Personality, nic, $"pnswap{i}", mac, peerAddress, card.Options);
                await HotPlug.AttachAsync(guest, machine, device, socket, i);
                await HotPlug.ExpectDriverAsync(guest, card.Driver, mac, guestAddress);
                if (card.Personality == "virtio-net") await TwoQueuePairsAsync(guest, peerAddress);
                await TrafficAsync(guest, peer, peerAddress, guestAddress, 8080 + 10 * i);
                await HotPlug.DetachAsync(guest, server, device, nic);
                await HotPlug.AssertVmAliveAsync(guest);
            }
            await server.ManageCheckedAsync("modules", "unload", loaded!);

            // One QEMU and one Polynic process throughout, nothing rebuilt or rewritten, both end cleanly.
            Assert.Equal(qemu, guest.ProcessId);
            Assert.Equal(0, await guest.QuitAsync(Short));
            Assert.False(server.HasExited, server.Output);
            Assert.Equal(pid, server.Id);
            Assert.Equal(before, PolynicProcess.HashBinaries());
            Assert.Empty(JsonDocument.Parse(await server.ManageCheckedAsync("modules", "list")).RootElement.EnumerateArray());
            Assert.Equal(0, await server.StopAsync());
            output.WriteLine(server.Output);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Both queue pairs in use without MSI-X: the driver takes INTx (no MSI vectors), ethtool
    /// turns on the second pair, and parallel streams kick both transmit queues (8 flows: even if
    /// the kernel spreads them by hash rather than by CPU, all land on one queue 1 time in 128).
    /// </summary>
    private async Task TwoQueuePairsAsync(Guest guest, string peerAddress)
    {
        Assert.Equal("no msi", (await guest.RunCheckedAsync("ls /sys/class/net/eth0/device/msi_irqs 2>/dev/null | grep -q . && echo msi || echo no msi", Short)).Trim());
        await guest.RunCheckedAsync("ethtool -L eth0 combined 2", Short);
        Assert.Matches(@"Combined:\s+2\s*$", (await guest.RunCheckedAsync("ethtool -l eth0 | tail -n 1", Short)).Trim());
        var kicks = () => guest.RunCheckedAsync("ethtool -S eth0 | grep -E '^ *tx[01]_kicks:' | awk '{print $2}'", Short);
        var start = (await kicks()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        await guest.RunCheckedAsync($"iperf3 -c {peerAddress} -P 8 -t 2 >/dev/null", TimeSpan.FromMinutes(1));
        var end = (await kicks()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        Assert.Equal(2, start.Length);
        Assert.True(end[0] > start[0] && end[1] > start[1], $"tx0/tx1 kicks {start[0]}/{start[1]} -> {end[0]}/{end[1]}");
    }

    private async Task TrafficAsync(Guest guest, NetworkNamespace peer, string peerAddress, string guestAddress, int port)
    {
        var ping = await guest.RunCheckedAsync($"ping -c 10 -i 0.05 -W 2 {peerAddress}", TimeSpan.FromMinutes(1));
        PingOutput.AssertAllAnswered(ping, 10);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await FileTransfer.AssertBothWaysAsync(guest, peer, peerAddress, guestAddress, 8, port);
        output.WriteLine($"{(await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", Short)).Trim()}: ping 10/10, 8 MiB both ways with equal sha256 in {clock.Elapsed.TotalSeconds:0} s");
    }
}
