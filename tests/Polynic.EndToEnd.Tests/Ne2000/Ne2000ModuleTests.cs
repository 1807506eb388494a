using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Modules;
using Polynic.Ports.Tap;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Polynic.TestMachine;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Ne2000;

/// <summary>
/// The NE2000 PCI (RTL8029) personality shipped as an XML descriptor (modules/ne2000/ne2000.xml:
/// PCI identity, I/O BAR, PROM) with a C# source module for its behaviour (ne2000.cs), compiled
/// by the module catalog when the descriptor is loaded; checked on the test machine, then driven
/// by Linux ne2k-pci.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class Ne2000ModuleTests(RigFixture rig, ITestOutputHelper output) : IDisposable
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:2e:80:29");
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);
    private static int s_subnet = 200;

    private readonly string _cache = Directory.CreateTempSubdirectory("polynic-ne2000-cache-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_cache, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string SourcePath() => Path.Combine(PersonalityModules.SourceDirectory(), "ne2000", "ne2000.xml");

    private (ModuleCatalog Catalog, ModuleInfo Info) LoadModule()
    {
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = _cache });
        var info = catalog.Load(SourcePath());
        Assert.True(info.State == ModuleState.Loaded, info.ToString() + "\n" + string.Join("\n", info.Diagnostics));
        return (catalog, info);
    }

    private IPciDevice CreateDevice()
    {
        var (catalog, info) = LoadModule();
        Assert.Contains("ne2000", info.Personalities);
        return catalog.Create("ne2000", new PersonalitySettings(new NicSettings(Mac)));
    }

    [Fact]
    public void The_descriptor_loads_with_its_source_behaviour_compiled_into_the_ne2000_personality()
    {
        var (catalog, info) = LoadModule();
        Assert.Equal(ModuleKind.Descriptor, info.Kind);
        Assert.Equal(PolynicSdk.Version, info.SdkVersion);
        Assert.DoesNotContain(info.Diagnostics, d => d.IsError);
        Assert.Contains(catalog.Personalities(), p => p.Name == "ne2000");
    }

    [Fact]
    public void On_the_test_machine_the_driver_reads_the_mac_from_the_prom_and_a_reset_is_acknowledged()
    {
        var machine = new Machine();
        int slot = machine.Plug(CreateDevice());
        Assert.Equal(0x8029_10ECu, machine.ConfigRead(slot, 0x00));
        Assert.Equal(0x020000u, machine.ConfigRead(slot, 0x08) >> 8);
        ulong io = machine.Enumerate(slot)[0];
        Assert.NotEqual(0ul, io);

        // ne2k_pci_init_one: 8390 presence check, reset through the reset port, then the PROM read.
        Assert.NotEqual(0xFFu, machine.IoRead(io, 1));
        machine.IoWrite(io + 0x1F, machine.IoRead(io + 0x1F, 1), 1);
        Assert.NotEqual(0u, machine.IoRead(io + 0x07, 1) & 0x80);
        machine.IoWrite(io + 0x07, 0xFF, 1);
        foreach (var (value, reg) in new (uint, ulong)[]
                 {
                     (0x21, 0x00), (0x49, 0x0E), (0, 0x0A), (0, 0x0B), (0, 0x0F), (0xFF, 0x07), (0x20, 0x0C),
                     (0x02, 0x0D), (32, 0x0A), (0, 0x0B), (0, 0x08), (0, 0x09), (0x0A, 0x00),
                 })
            machine.IoWrite(io + reg, value, 1);
        var prom = new byte[32];
        for (int i = 0; i < prom.Length; i++) prom[i] = (byte)machine.IoRead(io + 0x10, 1);
        Assert.Equal(Mac, new MacAddress(prom));
        Assert.Equal(0x57, prom[14]);
        Assert.NotEqual(0u, machine.IoRead(io + 0x07, 1) & 0x40); // remote DMA complete

        // Word-mode remote write then read back of packet memory, through 32-bit and 16-bit accesses.
        machine.IoWrite(io + 0x0A, 8, 1); machine.IoWrite(io + 0x0B, 0, 1);
        machine.IoWrite(io + 0x08, 0, 1); machine.IoWrite(io + 0x09, 0x40, 1);
        machine.IoWrite(io, 0x12, 1);
        machine.IoWrite(io + 0x10, 0x4433_2211, 4);
        machine.IoWrite(io + 0x10, 0x8877_6655, 4);
        machine.IoWrite(io + 0x0A, 8, 1); machine.IoWrite(io + 0x0B, 0, 1);
        machine.IoWrite(io + 0x08, 0, 1); machine.IoWrite(io + 0x09, 0x40, 1);
        machine.IoWrite(io, 0x0A, 1);
        Assert.Equal(0x2211u, machine.IoRead(io + 0x10, 2));
        Assert.Equal(0x6655_4433u, machine.IoRead(io + 0x10, 4));
        Assert.Equal(0x8877u, machine.IoRead(io + 0x10, 2));

        // Hostile values never throw: every register, every page, the data port off the end of memory.
        for (uint page = 0; page < 4; page++)
        {
            machine.IoWrite(io, page << 6 | 0x21, 1);
            for (ulong reg = 1; reg < 0x10; reg++) { machine.IoWrite(io + reg, 0xFF, 1); machine.IoRead(io + reg, 1); }
        }
        machine.IoWrite(io, 0x22, 1);
        machine.IoWrite(io + 0x08, 0xF0, 1); machine.IoWrite(io + 0x09, 0xFF, 1);
        for (int i = 0; i < 64; i++) { machine.IoWrite(io + 0x10, 0xFFFF_FFFF, 4); machine.IoRead(io + 0x10, 4); }
        machine.IoWrite(io + 0x04, 0xFF, 1); machine.IoWrite(io + 0x05, 0xFF, 1); machine.IoWrite(io + 0x06, 0xFF, 1);
        machine.IoWrite(io, 0x26, 1);
        Assert.Null(machine.Function(slot).FailureReason);
    }

    [Fact]
    public async Task Linux_ne2k_pci_drives_the_module_ping_and_4_MiB_files_both_ways()
    {
        var device = CreateDevice();
        Assert.IsAssignableFrom<NicDevice>(device);
        int subnet = Interlocked.Increment(ref s_subnet);
        string peerAddress = $"10.77.{subnet}.1", guestAddress = $"10.77.{subnet}.2";
        var image = await rig.Rig.EnsurePreparedAsync();
        await using var served = await ServedDevice<IPciDevice>.StartAsync(device, "ne2000", new TapPortOptions { InterfaceName = "pnt%d", VnetHeader = false });
        await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
        await peer.AdoptAsync(served.Port!.InterfaceName, $"{peerAddress}/24", 1500);
        await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "ne2000", VfioUserSockets = [served.SocketPath] });

        Assert.Equal("ne2k-pci", (await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", TimeSpan.FromSeconds(10))).Trim());
        Assert.Equal(Mac.ToString(), (await guest.RunCheckedAsync("cat /sys/class/net/eth0/address", TimeSpan.FromSeconds(5))).Trim());
        await guest.RunCheckedAsync(
            $"ip link set eth0 up && ip addr add {guestAddress}/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
            TimeSpan.FromSeconds(30));

        var ping = await guest.RunCheckedAsync($"/usr/bin/ping -c 100 -i 0.02 -W 2 {peerAddress}", TimeSpan.FromMinutes(2));
        PingOutput.AssertAllAnswered(ping, 100);
        output.WriteLine(ping.Trim().Split('\n')[^2..].Aggregate((a, b) => a + "\n" + b));
        var copy = await FileTransfer.AssertBothWaysAsync(guest, peer, peerAddress, guestAddress, 4, timeout: Long);
        output.WriteLine($"4 MiB host->guest in {copy.HostToGuest.TotalSeconds:F1} s, guest->host in {copy.GuestToHost.TotalSeconds:F1} s");

        // The driver saw nothing it complains about: no remote DMA timeouts, bogus ring headers or register mismaps.
        var dmesg = await guest.RunCheckedAsync("dmesg | grep -i -E 'eth0|ne2k|8390' || true", TimeSpan.FromSeconds(10));
        output.WriteLine(dmesg);
        Assert.DoesNotContain("timeout", dmesg);
        Assert.DoesNotContain("bogus", dmesg);
        Assert.DoesNotContain("mismap", dmesg);
        var errors = await guest.RunCheckedAsync("cat /sys/class/net/eth0/statistics/rx_errors /sys/class/net/eth0/statistics/tx_errors", TimeSpan.FromSeconds(5));
        output.WriteLine("rx_errors/tx_errors: " + errors.Replace('\n', ' '));
        output.WriteLine(string.Join(", ", ((NicDevice)device).Counters.Snapshot().Where(c => c.Value != 0)));
        Assert.Null(served.Function.FailureReason);
    }
}
