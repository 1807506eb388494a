using System.Security.Cryptography;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Ports.Tap;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Firmware;

/// <summary>
/// A second driver stack besides Linux: the iPXE network boot firmware QEMU ships as option ROMs
/// (Debian's ipxe-qemu, a dependency of QEMU). SeaBIOS runs the ROM from the device's ROM BAR, and
/// iPXE's own driver for the card (intel for the 82540EM and the 82574L, realtek, virtio-net) opens it, configures by DHCP and
/// fetches a script and a file over HTTP from a namespace behind the tap: real firmware, no
/// operating system, the personality's register and descriptor behaviour as iPXE expects it.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class IpxeNetworkBootTests(RigFixture rig)
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:1b:00:01");
    private const string Server = "10.77.200.1";
    private const int FileBytes = 1024 * 1024;

    [Theory]
    [InlineData("e1000", "pxe-e1000.rom", "82540em", "pc")]
    [InlineData("e1000e", "pxe-e1000e.rom", "82574l", "pc")]
    [InlineData("rtl8139", "pxe-rtl8139.rom", "rtl8139", "pc")]
    [InlineData("virtio-net", "pxe-virtio.rom", "virtio-net", "pc")]
    [InlineData("e1000", "pxe-e1000.rom", "82540em", "q35")]
    [InlineData("rtl8139", "pxe-rtl8139.rom", "rtl8139", "q35")]
    [InlineData("virtio-net", "pxe-virtio.rom", "virtio-net", "q35")]
    public async Task Ipxe_from_the_option_rom_configures_by_dhcp_and_fetches_a_file_over_http(string personality, string rom, string ipxeDriver, string machine)
    {
        var device = PersonalityModules.Catalog().Create(personality, new PersonalitySettings(new NicSettings(Mac)));
        var image = await rig.Rig.EnsurePreparedAsync();
        await using var served = await ServedDevice<IPciDevice>.StartAsync(device, "pxe-" + personality, new TapPortOptions { InterfaceName = "pxe%d" });
        await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
        await peer.AdoptAsync(served.Port!.InterfaceName, Server + "/24");
        ServeDhcpAndHttp(peer, served.Port.InterfaceName);

        await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions
        {
            Name = "pxe-" + personality,
            Machine = machine,
            VfioUserSockets = [served.SocketPath],
            NetworkBootRom = "/usr/share/qemu/" + rom,
            WaitForReady = false,
            EnableQmp = false,
        });
        // iPXE says "No more network devices" when its driver refused the card or nothing answered.
        var outcome = await guest.WaitForConsoleAsync(TimeSpan.FromMinutes(4), CancellationToken.None,
            "POLYNIC-IPXE-DONE", "POLYNIC-IPXE-FAILED", "No more network devices");
        // Let the line with the outcome finish.
        await Task.Delay(500);
        var console = guest.SerialText;
        Assert.True(outcome == "POLYNIC-IPXE-DONE", $"iPXE ended with \"{outcome}\":\n{console}");

        Assert.Contains($"using {ipxeDriver}", console);
        Assert.Contains($"Configuring (net0 {Mac}", console);
        Assert.Matches(@"net0: 10\.77\.200\.\d+/255\.255\.255\.0", console);
        Assert.Contains($"blob : {FileBytes} bytes", console);
        var nic = (NicDevice)device;
        Assert.True(nic.Counters.RxFrames > FileBytes / 1514, $"only {nic.Counters.RxFrames} frames received");
        Assert.Equal(0, nic.Counters.DmaFaults + nic.Counters.DescriptorFaults);
        Assert.Null(served.Function.FailureReason);
    }

    /// <summary>udhcpd hands out an address and the script's URL; busybox httpd serves the script and a random file.</summary>
    private static void ServeDhcpAndHttp(NetworkNamespace peer, string interfaceName)
    {
        var www = Path.Combine(peer.ScratchDirectory, "www");
        Directory.CreateDirectory(www);
        File.WriteAllBytes(Path.Combine(www, "blob"), RandomNumberGenerator.GetBytes(FileBytes));
        // imgstat prints "blob : <size> bytes"; the markers tell the test the script ran to its end.
        File.WriteAllText(Path.Combine(www, "boot.ipxe"),
            "#!ipxe\n" +
            $"imgfetch http://{Server}/blob || goto failed\n" +
            "imgstat blob\n" +
            "echo POLYNIC-IPXE-DONE\n" +
            "exit\n" +
            ":failed\n" +
            "echo POLYNIC-IPXE-FAILED\n");
        File.WriteAllText(Path.Combine(peer.ScratchDirectory, "udhcpd.conf"),
            "start 10.77.200.10\nend 10.77.200.20\nmax_leases 11\n" +
            $"interface {interfaceName}\nlease_file {peer.ScratchInRoot}/leases\n" +
            $"option subnet 255.255.255.0\nboot_file http://{Server}/boot.ipxe\n");
        File.WriteAllText(Path.Combine(peer.ScratchDirectory, "leases"), "");
        peer.StartTool($"busybox udhcpd -f {peer.ScratchInRoot}/udhcpd.conf");
        peer.StartTool($"busybox httpd -f -p {Server}:80 -h {peer.ScratchInRoot}/www");
    }
}
