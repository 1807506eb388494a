using Polynic.Core.Nic;
using Polynic.Personalities.Rtl8139.Tests.Support;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>What 8139too (rtl8139_init_board/init_one) and 8139cp (cp_init_one) read while probing.</summary>
public sealed class ProbeTests
{
    [Theory]
    [InlineData(0x10, 0x7400_0000u)]   // RTL-8139C: 8139too's table, revision below 0x20
    [InlineData(0x20, 0x7480_0000u)]   // RTL-8139C+: 8139cp
    public void Pci_revision_and_TxConfig_hardware_version_name_the_chip(byte revision, uint version)
    {
        using var rig = new Rtl8139Rig(revision);
        Assert.Equal(0x8139_10ECu, rig.Machine.ConfigRead(rig.Slot, 0));
        Assert.Equal(revision, (byte)rig.Machine.ConfigRead(rig.Slot, 8, 1));
        Assert.Equal(version, rig.R32(TxConfig) & 0x7CC0_0000);
        Assert.Equal((byte)(version >> 24), rig.R8(0x43));   // 8139cp ChipVersion
        // Writes cannot change the version bits.
        rig.W32(TxConfig, 0);
        Assert.Equal(version, rig.R32(TxConfig) & 0x7CC0_0000);
    }

    [Fact]
    public void Both_bars_decode_the_same_registers()
    {
        using var rig = new Rtl8139Rig();
        Assert.Equal(rig.R32(Idr0), rig.IoRead(Idr0, 4));
        Assert.Equal(rig.R32(TxConfig), rig.IoRead(TxConfig, 4));
    }

    [Theory]
    [InlineData(0x10)]
    [InlineData(0x20)]
    public void Eeprom_read_as_the_drivers_do_finds_6_bit_addresses_and_the_station_address(byte revision)
    {
        using var rig = new Rtl8139Rig(revision);
        // addr_len = read_eeprom(ioaddr, 0, 8) == 0x8129 ? 8 : 6
        Assert.NotEqual(0x8129, rig.ReadEeprom(0, 8));
        Assert.Equal(0x8129, rig.ReadEeprom(0, 6));
        Span<byte> mac = stackalloc byte[6];
        for (int i = 0; i < 3; i++)
        {
            ushort w = rig.ReadEeprom(i + 7, 6);
            mac[2 * i] = (byte)w;
            mac[2 * i + 1] = (byte)(w >> 8);
        }
        Assert.Equal(Rtl8139Rig.Mac, new MacAddress(mac));
        // IDR0-5 were loaded from the EEPROM at power-on.
        Assert.Equal(Rtl8139Rig.Mac, MacAddress.FromLowHigh(rig.R32(Idr0), rig.R32(Idr4) & 0xFFFF));
        Assert.Equal(0, rig.R8(Cfg9346));
    }

    [Fact]
    public void Mii_registers_mapped_at_0x62_report_link_autonegotiation_and_100_full()
    {
        using var rig = new Rtl8139Rig();
        ushort bmsr = rig.R16(0x64);
        Assert.Equal(0x0004, bmsr & 0x0004);          // link
        Assert.Equal(0x0020, bmsr & 0x0020);          // autonegotiation complete
        Assert.Equal(0x1000, rig.R16(0x62) & 0x1000);  // BMCR autonegotiation enabled
        Assert.NotEqual(0, rig.R16(0x68) & 0x0100);    // partner 100 full
        Assert.Equal(0, rig.R8(MediaStatus) & 0x0C);   // LINKB clear, 100 Mb/s
        Assert.NotEqual(0, rig.R16(Cscr) & 0x0400);
    }

    [Fact]
    public void Without_a_cable_the_link_is_down_and_connecting_raises_the_link_change_interrupt()
    {
        using var rig = new Rtl8139Rig(attachPort: false);
        Assert.Equal(0, rig.R16(0x64) & 0x0004);
        Assert.Equal(0x04, rig.R8(MediaStatus) & 0x04);
        rig.W16(Rtl8139Rig.IntrMask, 0x0020);
        rig.Nic.AttachPort(rig.Pair.A);
        Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0020);
        Assert.True(rig.IntxAsserted);
        rig.R16(0x64);
        Assert.Equal(0x0004, rig.R16(0x64) & 0x0004);
    }

    [Fact]
    public void Chip_reset_self_clears_keeps_the_station_address_and_clears_interrupts()
    {
        using var rig = new Rtl8139Rig();
        rig.W8(Cfg9346, 0xC0);
        rig.W32(Idr0, 0x0403_0201);
        rig.W32(Idr4, 0x0605);
        rig.W16(Rtl8139Rig.IntrMask, 0xFFFF);
        rig.W8(Rtl8139Rig.ChipCmd, 0x10);
        Assert.Equal(0x01, rig.R8(Rtl8139Rig.ChipCmd));   // reset done, RE/TE off, buffer empty
        Assert.Equal(0x0403_0201u, rig.R32(Idr0));
        Assert.Equal(0, rig.R16(Rtl8139Rig.IntrMask));
        Assert.Equal(0x2000u, rig.R32(Tsd0) & 0x2000);     // every slot owned by the host
    }

    [Fact]
    public void Config1_is_written_only_while_Cfg9346_unlocks_it()
    {
        using var rig = new Rtl8139Rig();
        rig.W8(Rtl8139Rig.Config1, 0x21);
        Assert.Equal(0, rig.R8(Rtl8139Rig.Config1));
        rig.W8(Cfg9346, 0xC0);
        rig.W8(Rtl8139Rig.Config1, 0x21);
        rig.W8(Cfg9346, 0);
        Assert.Equal(0x21, rig.R8(Rtl8139Rig.Config1));
    }
}
