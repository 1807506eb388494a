using Polynic.Core.Nic.Phy;
using static Polynic.Personalities.E1000.E1000Bits;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// The 82576's internal IGP3 PHY at MDIO address 1, reached through MDIC: the clause 22 registers
/// from <see cref="MiiPhy"/> plus the Intel-specific ones Linux igb touches for an
/// <c>e1000_phy_igp_3</c> (port config 0x10, port status 0x11, port control 0x12, link health
/// 0x13, power management 0x19). Register 0x1F selects a page: igb writes the whole register
/// address there before any access above 0x0F (igb_read_phy_reg_igp) and then accesses bits 4:0
/// of it, so registers 0x10-0x1E of a page other than 0 live in a bounded page store.
/// </summary>
internal sealed class Igp3Phy
{
    /// <summary>MDIO address of the internal PHY (igb_get_phy_id_82575: 1 when SGMII is off).</summary>
    public const int Address = 1;

    /// <summary>
    /// IGP03E1000_E_PHY_ID (0x02A80390), revision 1 as QEMU's igb reports it: the id with which
    /// igb_init_phy_params_82575 picks the igp_3 operations; any other id fails the probe.
    /// </summary>
    public const uint PhyId = 0x02A8_0391;

#pragma warning disable CS1591
    public const int PortConfig = 0x10;      // IGP01E1000_PHY_PORT_CONFIG
    public const int PortStatus = 0x11;      // IGP01E1000_PHY_PORT_STATUS
    public const int PortControl = 0x12;     // IGP01E1000_PHY_PORT_CTRL
    public const int LinkHealth = 0x13;      // IGP01E1000_PHY_LINK_HEALTH
    public const int PowerManagement = 0x19; // IGP02E1000_PHY_POWER_MGMT
    public const int PageSelect = 0x1F;      // IGP01E1000_PHY_PAGE_SELECT
#pragma warning restore CS1591

    // Port status (IGP01E1000_PSSR_*): speed 15:14 (11 = 1000), full duplex bit 9, link bit 10.
    private const ushort PssrSpeed1000 = 0xC000, PssrSpeed100 = 0x8000, PssrSpeed10 = 0x4000;
    private const ushort PssrFullDuplex = 1 << 9, PssrLink = 1 << 10;

    // Pages above 0 (the value in register 0x1F shifted right by 5) wrap at this count so the store
    // stays bounded whatever a guest writes; igb uses pages up to 0x8D (the AGC registers 0x11B1..).
    private const int PageCount = 256;
    private readonly ushort[] _pages = new ushort[PageCount * 16];
    private ushort _pageSelect;

    public Igp3Phy()
    {
        var options = new MiiPhyOptions
        {
            PhyId = PhyId,
            AdvertisementReset = 0x0DE1,
            // The partner advertises PAUSE and ASM_DIR so igb resolves flow control to RX/TX.
            PartnerAbility = 0x4DE1,
            GigabitControlReset = 0x0F00,
            PartnerGigabitAbility = MiiRegisters.Partner1000Full | MiiRegisters.Partner1000Half,
        };
        // Reset values as QEMU's igb_phy_reg_init: smart speed and D3 LPLU on in 0x19, MDI-X auto in 0x10.
        Mii = new MiiPhy(options)
            .DeclareRegister(PortConfig, 0x0120, 0xFFFF)
            .DeclareRegister(PortStatus, 0, 0, onRead: static (phy, _, _) => PortStatusOf(phy))
            .DeclareRegister(PortControl, 0, 0xFFFF)
            .DeclareRegister(LinkHealth, 0, 0)
            .DeclareRegister(PowerManagement, 0x008D, 0xFFFF);
    }

    /// <summary>The clause 22 register model.</summary>
    public MiiPhy Mii { get; }

    /// <summary>
    /// Serves a write of MDIC and returns what MDIC then reads: the operation completes at once
    /// (READY), a read returns the register in DATA, any PHY address but 1 answers READY|ERROR.
    /// <paramref name="completionInterrupt"/> is set when INT_EN asks for ICR.MDAC.
    /// </summary>
    public uint Access(uint mdic, out bool completionInterrupt)
    {
        completionInterrupt = (mdic & MdicInterruptEnable) != 0;
        int phy = (int)(mdic >> MdicPhyShift) & 0x1F;
        int register = (int)(mdic >> MdicRegisterShift) & 0x1F;
        uint op = mdic & MdicOpMask;
        // Bit 31 (MDIC_DEST) is kept: igb_sgmii_uses_mdio_82575 reads it back as "external MDIO".
        uint result = (mdic & ~(MdicReady | MdicError)) | MdicReady;
        if (phy != Address || (op != MdicOpRead && op != MdicOpWrite)) return result | MdicError;
        bool write = op == MdicOpWrite;
        if (register == PageSelect)
        {
            if (write) _pageSelect = (ushort)mdic;
            return write ? result : (result & ~MdicDataMask) | _pageSelect;
        }
        int page = (_pageSelect >> 5) % PageCount;
        if (register >= 0x10 && page != 0)
        {
            int slot = page * 16 + register - 0x10;
            if (write) _pages[slot] = (ushort)mdic;
            return write ? result : (result & ~MdicDataMask) | _pages[slot];
        }
        if (write)
        {
            Mii.Write(register, (ushort)mdic);
            return result;
        }
        return (result & ~MdicDataMask) | Mii.Read(register);
    }

    /// <summary>Power-on state (PHY reset): clause 22 and vendor registers, page select and page store.</summary>
    public void Reset()
    {
        Mii.Reset();
        _pageSelect = 0;
        Array.Clear(_pages);
    }

    private static ushort PortStatusOf(MiiPhy phy)
    {
        if (!phy.EffectiveLinkUp) return 0;
        ushort value = PssrLink;
        value |= phy.Speed switch
        {
            LinkSpeed.Mbps1000 => PssrSpeed1000,
            LinkSpeed.Mbps100 => PssrSpeed100,
            _ => PssrSpeed10,
        };
        if (phy.FullDuplex) value |= PssrFullDuplex;
        return value;
    }
}
