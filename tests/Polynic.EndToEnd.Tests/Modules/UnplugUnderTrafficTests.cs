using System.Text.Json;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// Every personality unplugged from a running guest while it is busy: frames in flight both ways
/// (iperf3 --bidir and a fast ping) for the NICs, configuration reads for the diagnostic function.
/// QEMU's <c>device_del</c> tears the device down under the driver — its DMA windows are unmapped
/// while Polynic's queues still hold work, and the socket closes — and QEMU, the guest and the one
/// <c>polynic serve</c> process all carry on, card after card. Then the other order: the server
/// drops a card a VMM still holds (the socket closes before DEVICE_DELETED), and the VMM unplugs it
/// afterwards.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class UnplugUnderTrafficTests(RigFixture rig, ITestOutputHelper output)
{
    private static readonly TimeSpan Short = HotPlug.Short;

    private sealed record Card(string Personality, string Driver, string Options = "");

    private static readonly Card[] Cards =
    [
        new("e1000", "e1000"),
        new("rtl8139", "8139too"),
        new("rtl8139cp", "8139cp", ",revision=32"),
        new("ne2000", "ne2k-pci"),
        new("virtio-net", "virtio_net", ",queuePairs=2,msix=off"),
    ];

    [Fact]
    public async Task Each_personality_unplugged_while_traffic_flows_leaves_QEMU_the_guest_and_Polynic_running()
    {
        await PolynicProcess.EnsureBuiltAsync();
        var image = await rig.Rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-unplug-");
        Directory.CreateDirectory(Path.Combine(work.FullName, "modules"));
        const string subnet = "10.77.253";
        string peerAddress = $"{subnet}.1", guestAddress = $"{subnet}.2";
        try
        {
            await using var server = await PolynicProcess.ServeAsync(Path.Combine(work.FullName, "control.sock"), Path.Combine(work.FullName, "modules"));
            foreach (var module in new[] { "Polynic.Personalities.E1000", "Polynic.Personalities.Rtl8139", "Polynic.Personalities.VirtioNet", "Polynic.Personalities.Diagnostic" })
                await server.ManageCheckedAsync("modules", "load", PolynicProcess.Module(module));
            await server.ManageCheckedAsync("modules", "load", Path.Combine(PolynicProcess.Artifacts, "modules", "ne2000", "ne2000.xml"));
            await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            peer.StartTool("iperf3 -s");
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "unplug" });
            int qemu = guest.ProcessId;

            for (int i = 0; i < Cards.Length; i++)
            {
                var card = Cards[i];
                string nic = $"busy{i}", device = $"busy{i}", mac = $"52:54:00:5b:00:0{i + 1}";
                string socket = await HotPlug.AddTapNicAsync(server, peer, work.FullName, card.Personality, nic, $"pnbusy{i}", mac, peerAddress, card.Options);
                await HotPlug.AttachAsync(guest, "pc", device, socket, i);
                await HotPlug.ExpectDriverAsync(guest, card.Driver, mac, guestAddress);
                await StartTrafficAsync(guest, peerAddress);
                await HotPlug.DetachAsync(guest, server, device, nic);
                await HotPlug.AssertVmAliveAsync(guest);
                await guest.RunAsync("killall iperf3 ping 2>/dev/null", Short);
                output.WriteLine($"{card.Personality} ({card.Driver}): unplugged under traffic; QEMU, guest and Polynic running");
            }

            // The diagnostic function: no driver binds; the guest reads its configuration space in a loop.
            string diagnostic = await HotPlug.AddNicAsync(server, work.FullName, "diagnostic", "probe", ",msix=off");
            await HotPlug.AttachAsync(guest, "pc", "probe", diagnostic, 0);
            string path = (await guest.RunCheckedAsync(
                "for i in $(seq 1 300); do d=$(grep -l 0x7a01 /sys/bus/pci/devices/*/device | head -n 1); [ -n \"$d\" ] && { dirname $d; exit 0; }; sleep 0.1; done; exit 1", Short)).Trim();
            await guest.RunCheckedAsync($"(while :; do cat {path}/config >/dev/null 2>&1 || break; done) >/dev/null 2>&1 &", Short);
            await HotPlug.DetachAsync(guest, server, "probe", "probe");
            await HotPlug.AssertVmAliveAsync(guest);

            // The other order: Polynic stops serving an e1000 the guest still drives (its socket
            // closes first), then QEMU unplugs the orphaned device.
            string orphan = await HotPlug.AddTapNicAsync(server, peer, work.FullName, "e1000", "orphan", "pnorphan", "52:54:00:5b:00:aa", peerAddress);
            await HotPlug.AttachAsync(guest, "pc", "orphan", orphan, 0);
            await HotPlug.ExpectDriverAsync(guest, "e1000", "52:54:00:5b:00:aa", guestAddress);
            await StartTrafficAsync(guest, peerAddress);
            var (code, said) = await server.ManageAsync("nics", "remove", "orphan");
            Assert.True(code == 0, said);
            Assert.DoesNotContain("warning", said); // no MSI-X: nothing for QEMU to trip on later
            await HotPlug.UnplugAsync(guest, "orphan"); // fails with QEMU's report if QEMU dies
            await HotPlug.AssertVmAliveAsync(guest);

            Assert.Empty(JsonDocument.Parse(await server.ManageCheckedAsync("nics", "list")).RootElement.EnumerateArray());
            Assert.Equal(qemu, guest.ProcessId);
            Assert.Equal(0, await guest.QuitAsync(Short));
            Assert.False(server.HasExited, server.Output);
            Assert.Equal(0, await server.StopAsync());
            output.WriteLine(server.Output);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Starts frames both ways in the background and waits until the interface counts them moving.</summary>
    private static async Task StartTrafficAsync(Guest guest, string peerAddress)
    {
        // The path works before traffic starts: the first echo may wait for ARP on a freshly
        // plugged card (and the NE2000 is slow), so wait for one answered echo, as the other guest tests do.
        await guest.RunCheckedAsync($"for i in $(seq 1 10); do ping -c 1 -W 1 {peerAddress} >/dev/null && exit 0; done; echo peer never answered; exit 1", Short);
        await guest.RunCheckedAsync(
            $"(iperf3 -c {peerAddress} --bidir -t 60 >/dev/null 2>&1 &) ; (ping -i 0.01 {peerAddress} >/dev/null 2>&1 &)", Short);
        await guest.RunCheckedAsync(
            "a=$(cat /sys/class/net/eth0/statistics/rx_packets); b=$(cat /sys/class/net/eth0/statistics/tx_packets); " +
            "for i in $(seq 1 100); do sleep 0.1; " +
            "[ $(cat /sys/class/net/eth0/statistics/rx_packets) -gt $((a + 20)) ] && [ $(cat /sys/class/net/eth0/statistics/tx_packets) -gt $((b + 20)) ] && exit 0; done; " +
            "echo no traffic; exit 1", Short);
    }
}
