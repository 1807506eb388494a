using Polynic.Core.Nic.Phy;
using static Polynic.Core.Nic.Phy.MiiRegisters;

namespace Polynic.Core.Tests.Nic;

public class MiiPhyTests
{
    // Marvell 88E1011 identity as the Linux e1000 driver expects it (M88E1011_I_PHY_ID 0x01410C20).
    private static MiiPhy Marvell() => new(new MiiPhyOptions { PhyId = 0x0141_0C20 });

    [Fact]
    public void Identity_and_reset_values()
    {
        var phy = Marvell();
        Assert.Equal(0x0141, phy.Read(PhyId1));
        Assert.Equal(0x0C20, phy.Read(PhyId2));
        Assert.Equal(0x1140, phy.Read(Bmcr));
        Assert.Equal(0x05E1, phy.Read(Anar));
        Assert.Equal(0x0300, phy.Read(GigabitControl));
        Assert.Equal(0x3000, phy.Read(ExtendedStatus));
        // Link down: BMSR has abilities only (0x7949), partner registers are empty.
        Assert.Equal(0x7949, phy.Read(Bmsr));
        Assert.Equal(0, phy.Read(Anlpar));
        Assert.Equal(0, phy.Read(GigabitStatus));
    }

    [Fact]
    public void Link_up_completes_autonegotiation_at_once_and_resolves_1000_full()
    {
        var phy = Marvell();
        phy.SetLink(true);
        Assert.Equal(0x796D, phy.Read(Bmsr));        // + link status + AN complete
        Assert.Equal(0x45E1, phy.Read(Anlpar));
        Assert.Equal(0x3C00, phy.Read(GigabitStatus));
        Assert.Equal((LinkSpeed.Mbps1000, true), (phy.Speed, phy.FullDuplex));
        // Advertise only 100 half and nothing gigabit: 100 half.
        phy.Write(GigabitControl, 0);
        phy.Write(Anar, An100Half | AnSelector8023);
        Assert.Equal((LinkSpeed.Mbps100, false), (phy.Speed, phy.FullDuplex));
    }

    [Fact]
    public void Link_status_latches_low_until_read()
    {
        var phy = Marvell();
        phy.SetLink(true);
        Assert.NotEqual(0, phy.Read(Bmsr) & BmsrLinkStatus);
        phy.SetLink(false);
        phy.SetLink(true);                            // a short outage before the driver looked
        Assert.Equal(0, phy.Read(Bmsr) & BmsrLinkStatus);
        Assert.NotEqual(0, phy.Read(Bmsr) & BmsrLinkStatus);
    }

    [Fact]
    public void Bmcr_reset_and_restart_self_clear_and_forced_mode_uses_the_speed_bits()
    {
        var phy = Marvell();
        phy.SetLink(true);
        phy.Write(Anar, 0x0021);
        phy.Write(Bmcr, BmcrReset | BmcrLoopback);
        Assert.Equal(0x1140, phy.Read(Bmcr));
        Assert.Equal(0x05E1, phy.Read(Anar));
        phy.Write(Bmcr, BmcrSpeedLsb);                                    // AN off, 100 half forced
        Assert.False(phy.AutonegotiationComplete);
        Assert.Equal(0, phy.Read(Bmsr) & BmsrAutonegComplete);
        Assert.Equal((LinkSpeed.Mbps100, false), (phy.Speed, phy.FullDuplex));
        phy.Write(Bmcr, BmcrAutonegEnable | BmcrRestartAutoneg | BmcrLoopback);
        Assert.Equal(BmcrAutonegEnable | BmcrLoopback, phy.Read(Bmcr));
        Assert.True(phy.Loopback);
        Assert.True(phy.AutonegotiationComplete);
        phy.Write(Bmcr, BmcrAutonegEnable | BmcrPowerDown);
        Assert.Equal(0, phy.Read(Bmsr) & BmsrLinkStatus);
        Assert.Equal(LinkSpeed.None, phy.Speed);
    }

    [Fact]
    public void Read_only_registers_ignore_writes()
    {
        var phy = Marvell();
        foreach (int r in new[] { Bmsr, PhyId1, PhyId2, Anlpar, Aner, GigabitStatus, ExtendedStatus })
        {
            ushort before = phy.Read(r);
            phy.Write(r, 0xFFFF);
            Assert.Equal(before, phy.Read(r));
        }
    }

    [Fact]
    public void Vendor_registers_have_masks_hooks_and_reset_values()
    {
        var phy = Marvell();
        var writes = new List<(ushort, ushort)>();
        // Like 88E1011 register 16 (PHY specific control) and 17 (PHY specific status).
        phy.DeclareRegister(16, 0x0068, 0x0FFF, onWrite: (_, _, o, n) => writes.Add((o, n)));
        phy.DeclareRegister(17, 0, 0, onRead: (p, _, _) => (ushort)((p.Speed == LinkSpeed.Mbps1000 ? 0x8000 : 0)
            | (p.FullDuplex ? 0x2000 : 0) | 0x0800 | (p.EffectiveLinkUp ? 0x0400 : 0)));
        phy.Write(16, 0xFFFF);
        Assert.Equal(0x0FFF, phy.Read(16));
        Assert.Equal([((ushort)0x0068, (ushort)0x0FFF)], writes);
        phy.SetLink(true);
        Assert.Equal(0xAC00, phy.Read(17));
        phy.Write(17, 0xFFFF);
        Assert.Equal(0xAC00, phy.Read(17));
        phy.Write(Bmcr, BmcrReset);
        Assert.Equal(0x0068, phy.Read(16));
        Assert.Throws<ArgumentException>(() => phy.DeclareRegister(Bmsr, 0, 0));
        Assert.Throws<ArgumentException>(() => phy.DeclareRegister(32, 0, 0));
    }

    [Fact]
    public void Out_of_range_and_unimplemented_registers_read_zero()
    {
        var phy = Marvell();
        for (int r = -5; r < 100; r++)
        {
            phy.Write(r, 0xFFFF);
            if (r is < 0 or >= 32 or 7 or 8 or (>= 11 and <= 14) or >= 16) Assert.Equal(0, phy.Read(r));
        }
    }

    [Fact]
    public void Ten_hundred_phy_without_gigabit_registers()
    {
        var phy = new MiiPhy(new MiiPhyOptions
        {
            PhyId = 0x0000_0000, Gigabit = false, ControlReset = 0x3100,
            StatusAbilities = 0x7809 & ~BmsrExtendedStatus,
        });
        phy.SetLink(true);
        Assert.Equal(0, phy.Read(GigabitControl));
        Assert.Equal(0, phy.Read(ExtendedStatus));
        Assert.Equal((LinkSpeed.Mbps100, true), (phy.Speed, phy.FullDuplex));
    }
}
