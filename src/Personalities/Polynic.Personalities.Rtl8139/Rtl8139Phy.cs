using Polynic.Core.Nic.Phy;
using static Polynic.Core.Nic.Phy.MiiRegisters;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// The RTL8139's built-in 10/100 transceiver. Its MII registers are not reached over MDIO but
/// mapped into the register space (BMCR 0x62, BMSR 0x64, ANAR 0x66, ANLPAR 0x68, ANER 0x6A): the
/// drivers' mdio_read uses the mii_2_8139_map table for "PHY 32". No PHY identifier (reads 0).
/// </summary>
internal static class Rtl8139Phy
{
    public static MiiPhy Create() => new(new MiiPhyOptions
    {
        PhyId = 0,
        ControlReset = BmcrAutonegEnable | BmcrSpeedLsb | BmcrFullDuplex,
        StatusAbilities = Bmsr100Full | Bmsr100Half | Bmsr10Full | Bmsr10Half | BmsrAutonegAbility | BmsrExtendedCapability,
        Gigabit = false,
    });
}
