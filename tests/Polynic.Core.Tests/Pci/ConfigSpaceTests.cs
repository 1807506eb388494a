using CsCheck;
using Polynic.Core.Pci;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Pci;

public class ConfigSpaceTests
{
    private static (Machine machine, int slot, ProbeDevice device) Create()
    {
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        var machine = new Machine();
        return (machine, machine.Plug(device), device);
    }

    [Fact]
    public void Header_presents_the_declared_identity()
    {
        var (m, s, _) = Create();
        Assert.Equal(0x100E_8086u, m.ConfigRead(s, 0x00));
        Assert.Equal(0x0200_0003u, m.ConfigRead(s, 0x08));
        Assert.Equal(0x1100_1af4u, m.ConfigRead(s, 0x2C));
        Assert.Equal(0u, m.ConfigRead(s, 0x0E, 1));
        Assert.Equal(1u, m.ConfigRead(s, 0x3D, 1));
        Assert.NotEqual(0u, m.ConfigRead(s, 0x06, 2) & 0x10);
    }

    [Fact]
    public void Capability_list_links_pm_msi_and_msix_in_order()
    {
        var (m, s, _) = Create();
        var ids = new List<uint>();
        uint at = m.ConfigRead(s, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            Assert.Equal(0u, at & 3);
            Assert.InRange(at, 0x40u, 0xFCu);
            ids.Add(m.ConfigRead(s, (int)at, 1));
            at = m.ConfigRead(s, (int)at + 1, 1);
        }
        Assert.Equal(new uint[] { 0x01, 0x05, 0x11 }, ids);
    }

    [Fact]
    public void Bar_sizing_reports_size_and_type_bits()
    {
        var (m, s, _) = Create();
        m.ConfigWrite(s, 0x10, 0xFFFF_FFFF);
        Assert.Equal(0xFFFE_0000u, m.ConfigRead(s, 0x10));
        m.ConfigWrite(s, 0x14, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFC1u, m.ConfigRead(s, 0x14));
        m.ConfigWrite(s, 0x18, 0xFFFF_FFFF);
        m.ConfigWrite(s, 0x1C, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_C00Cu, m.ConfigRead(s, 0x18));
        Assert.Equal(0xFFFF_FFFFu, m.ConfigRead(s, 0x1C));
        Assert.Equal(0u, m.ConfigRead(s, 0x20));
        Assert.Equal(0u, m.ConfigRead(s, 0x24));
    }

    [Fact]
    public void Enumerated_bars_decode_only_while_the_command_register_enables_them()
    {
        var (m, s, _) = Create();
        var bases = m.Enumerate(s);
        m.MmioWrite(bases[0] + 8, 0xDEAD_BEEF);
        Assert.Equal(0xDEAD_BEEFu, m.MmioRead(bases[0] + 8));
        m.ConfigWrite(s, 0x04, 0x0, width: 2);
        Assert.Equal(0xFFFF_FFFFu, m.MmioRead(bases[0] + 8));
        m.ConfigWrite(s, 0x04, 0x2, width: 2);
        Assert.Equal(0xDEAD_BEEFu, m.MmioRead(bases[0] + 8));
    }

    [Fact]
    public void Command_register_keeps_only_implemented_bits()
    {
        var (m, s, _) = Create();
        m.ConfigWrite(s, 0x04, 0xFFFF, width: 2);
        Assert.Equal(0x0547u, m.ConfigRead(s, 0x04, 2));
    }

    [Fact]
    public void Status_error_bits_are_write_one_to_clear_and_cannot_be_set_by_software()
    {
        var (m, s, _) = Create();
        m.ConfigWrite(s, 0x06, 0xFFFF, width: 2);
        Assert.Equal(0x0010u, m.ConfigRead(s, 0x06, 2));
    }

    [Fact]
    public void Random_writes_never_change_read_only_fields()
    {
        var (m, s, _) = Create();
        int[] readOnly = [0x00, 0x02, 0x08, 0x0A, 0x0E, 0x2C, 0x2E, 0x34, 0x3D];
        var before = readOnly.ToDictionary(o => o, o => m.ConfigRead(s, o, 1));
        var msix = CapabilityOffset(m, s, 0x11);
        uint tableOffset = m.ConfigRead(s, msix + 4), pbaOffset = m.ConfigRead(s, msix + 8);

        Gen.Select(Gen.Int[0, 255], Gen.UInt, Gen.Int[0, 2].Select(i => 1 << i)).Sample((offset, value, width) =>
        {
            if (offset + width > 256) return;
            m.ConfigWrite(s, offset, value, width);
            foreach (var (o, v) in before) Assert.Equal(v, m.ConfigRead(s, o, 1));
            Assert.Equal(tableOffset, m.ConfigRead(s, msix + 4));
            Assert.Equal(pbaOffset, m.ConfigRead(s, msix + 8));
            Assert.Equal(0u, m.ConfigRead(s, 0x04, 2) & ~0x0547u);
        }, iter: 5000);
    }

    [Fact]
    public void Out_of_range_accesses_are_refused()
    {
        var (m, s, _) = Create();
        var f = m.Function(s);
        Assert.False(f.ReadConfig(255, new byte[4]));
        Assert.False(f.ReadConfig(-1, new byte[1]));
        Assert.False(f.WriteConfig(256, new byte[1]));
        Assert.False(f.ReadBar(3, 0, new byte[4]));
        Assert.False(f.ReadBar(0, 0x20000 - 2, new byte[4]));
        Assert.False(f.WriteBar(1, ulong.MaxValue, new byte[4]));
        Assert.False(f.ReadBar(0, 0, Span<byte>.Empty));
    }

    [Fact]
    public void Reset_returns_configuration_and_device_to_power_on_state()
    {
        var (m, s, device) = Create();
        m.Enumerate(s);
        m.ConfigWrite(s, 0x3C, 11, width: 1);
        m.Function(s).Reset();
        Assert.Equal(0u, m.ConfigRead(s, 0x04, 2));
        Assert.Equal(0u, m.ConfigRead(s, 0x10));
        Assert.Equal(0xFFu, m.ConfigRead(s, 0x3C, 1));
        Assert.Equal(1, device.Resets);
    }

    [Fact]
    public void Inconsistent_definitions_are_refused_with_a_reason()
    {
        var bad = ProbeDevice.FullDefinition() with { Msix = new MsixCapability(8, TableBar: 4, TableOffset: 0, PbaBar: 2, PbaOffset: 0) };
        var e = Assert.Throws<ArgumentException>(() => new PciFunction(new ProbeDevice(bad), "bad"));
        Assert.Contains("BAR 4", e.Message);
        var odd = ProbeDevice.FullDefinition() with { Bars = [new BarDefinition(0, BarKind.Memory32, 3000)] };
        Assert.Throws<ArgumentException>(() => new PciFunction(new ProbeDevice(odd), "odd"));
    }

    internal static int CapabilityOffset(Machine m, int slot, uint id)
    {
        uint at = m.ConfigRead(slot, 0x34, 1);
        while (at != 0)
        {
            if (m.ConfigRead(slot, (int)at, 1) == id) return (int)at;
            at = m.ConfigRead(slot, (int)at + 1, 1);
        }
        throw new InvalidOperationException($"capability {id:x2} not found");
    }
}
