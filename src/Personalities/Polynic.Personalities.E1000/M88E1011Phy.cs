using Polynic.Core.Nic.Phy;
using static Polynic.Personalities.E1000.E1000Bits;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The 82540EM's integrated Marvell 88E1011 PHY at MDIO address 1, reached through MDIC
/// (8254x SDM 13.4.10 MDIC, 13.5 PHY registers): the clause 22 registers from
/// <see cref="MiiPhy"/> plus the Marvell-specific ones Linux e1000 reads and writes. Those are
/// common to the 88E1000 family, so the same model serves the 82544's 88E1000 (identifier
/// 0x01410C30) when a descriptor gives that identifier.
/// </summary>
internal sealed class M88E1011Phy
{
    /// <summary>MDIO address of the internal PHY (Linux e1000_read_phy_reg_ex always uses 1).</summary>
    public const int Address = 1;

    /// <summary>The 82540EM's PHY identifier, checked by e1000_detect_gig_phy: M88E1011_I_PHY_ID, revision 0.</summary>
    public const uint DefaultPhyId = 0x0141_0C20;

#pragma warning disable CS1591
    public const int SpecificControl = 0x10;         // PSCR
    public const int SpecificStatus = 0x11;          // PSSR
    public const int InterruptEnable = 0x12;
    public const int InterruptStatus = 0x13;
    public const int ExtendedSpecificControl = 0x14; // EPSCR
    public const int ReceiveErrorCounter = 0x15;
    public const int LedControl = 0x18;
    public const int PageSelect = 29;
    public const int PageData = 30;
#pragma warning restore CS1591

    // PSSR bits (88E1011 datasheet, register 17): speed 15:14, duplex 13, speed/duplex resolved 11, link 10.
    private const ushort PssrSpeed1000 = 2 << 14;
    private const ushort PssrSpeed100 = 1 << 14;
    private const ushort PssrFullDuplex = 1 << 13;
    private const ushort PssrResolved = 1 << 11;
    private const ushort PssrLink = 1 << 10;

    /// <summary>Creates the 88E1011 in its power-on state, link down until the port reports carrier.</summary>
    public M88E1011Phy() : this(DefaultPhyId) { }

    /// <summary>BME1000 page select (Linux BM_PHY_PAGE_SELECT): registers 16-31 of other pages are reached through it.</summary>
    public const int BmPageSelect = 22;

    // BM paging: registers 16..31 of pages 1..1023 (page 0 is the M88 set above). Linux writes the
    // page number into register 22 before any access above register 15 (e1000e_read_phy_reg_bm2);
    // the 82574 loopback self-test uses pages 2, 769 and 776. Page numbers wrap at 1024 so the store
    // stays bounded whatever a guest writes.
    private const int PageCount = 1024;
    private readonly ushort[]? _pages;
    private ushort _page;

    /// <summary>Creates the PHY reporting identifier <paramref name="phyId"/> (registers 2 and 3).</summary>
    /// <param name="phyId">What MII registers 2 and 3 read.</param>
    /// <param name="bmPaging">The 82574's BME1000: register 22 selects the page of registers 16-31.</param>
    public M88E1011Phy(uint phyId, bool bmPaging = false)
    {
        if (bmPaging) _pages = new ushort[PageCount * 16];
        var options = new MiiPhyOptions
        {
            PhyId = phyId,
            AdvertisementReset = 0x0DE1,
            // The partner advertises PAUSE and ASM_DIR so Linux resolves flow control to RX/TX.
            PartnerAbility = 0x4DE1,
            GigabitControlReset = 0x0E00,
            PartnerGigabitAbility = MiiRegisters.Partner1000Full | MiiRegisters.Partner1000Half,
        };
        Mii = new MiiPhy(options)
            .DeclareRegister(SpecificControl, 0x0360, 0xFFFF)
            .DeclareRegister(SpecificStatus, 0, 0, onRead: static (phy, _, _) => SpecificStatusOf(phy))
            .DeclareRegister(InterruptEnable, 0, 0xFFFF)
            .DeclareRegister(InterruptStatus, 0, 0)
            .DeclareRegister(ExtendedSpecificControl, 0x0D60, 0xFFFF)
            .DeclareRegister(ReceiveErrorCounter, 0, 0)
            .DeclareRegister(LedControl, 0x4100, 0xFFFF)
            .DeclareRegister(PageSelect, 0, 0xFFFF)
            .DeclareRegister(PageData, 0, 0xFFFF);
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
        uint result = (mdic & ~(MdicReady | MdicError)) | MdicReady;
        if (phy != Address || (op != MdicOpRead && op != MdicOpWrite)) return result | MdicError;
        if (_pages is not null && register >= 16)
        {
            if (register == BmPageSelect)
            {
                if (op == MdicOpWrite) _page = (ushort)mdic;
                return op == MdicOpWrite ? result : (result & ~MdicDataMask) | _page;
            }
            if (_page % PageCount != 0)
            {
                int slot = _page % PageCount * 16 + register - 16;
                if (op == MdicOpWrite) _pages[slot] = (ushort)mdic;
                return op == MdicOpWrite ? result : (result & ~MdicDataMask) | _pages[slot];
            }
        }
        if (op == MdicOpWrite)
        {
            Mii.Write(register, (ushort)mdic);
            return result;
        }
        return (result & ~MdicDataMask) | Mii.Read(register);
    }

    /// <summary>Power-on state of the paged registers (device reset); the page-0 registers reset with <see cref="Mii"/>.</summary>
    public void ResetPages()
    {
        _page = 0;
        if (_pages is not null) Array.Clear(_pages);
    }

    private static ushort SpecificStatusOf(MiiPhy phy)
    {
        if (!phy.EffectiveLinkUp) return 0;
        ushort value = PssrResolved | PssrLink;
        value |= phy.Speed switch
        {
            LinkSpeed.Mbps1000 => PssrSpeed1000,
            LinkSpeed.Mbps100 => PssrSpeed100,
            _ => 0,
        };
        if (phy.FullDuplex) value |= PssrFullDuplex;
        return value;
    }
}
