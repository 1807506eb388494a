namespace Polynic.Personalities.E1000;

/// <summary>
/// Registers the 82574L adds to the 8254x map (82574 GbE Controller Datasheet, section 10
/// "Register Descriptions"; the names Linux e1000e regs.h uses). Byte offsets in BAR0.
/// </summary>
public static class E1000eRegisters
{
#pragma warning disable CS1591 // Datasheet mnemonics; the datasheet is the documentation.
    public const uint Eiac = 0x00DC;
    public const uint Iam = 0x00E0;
    public const uint Ivar = 0x00E4;
    public const uint Eitr = 0x00E8;         // EITR[0..4], 4 bytes apart
    public const uint ExtcnfCtrl = 0x0F00;
    public const uint ExtcnfSize = 0x0F08;
    public const uint Poemb = 0x0F10;
    public const uint Pbs = 0x1008;
    public const uint Eemngctl = 0x1010;
    public const uint Eewr = 0x102C;
    public const uint PbaEcc = 0x1100;
    public const uint Psrctl = 0x2170;
    public const uint Rdbal1 = 0x2900;       // receive queue 1: RDBAL1 .. RXDCTL1 (0x2928)
    public const uint Raid = 0x2C08;
    public const uint Tarc0 = 0x3840;
    public const uint Tdbal1 = 0x3900;       // transmit queue 1: TDBAL1 .. TXDCTL1 (0x3928)
    public const uint Tarc1 = 0x3940;
    public const uint InterruptStatisticsFirst = 0x4100; // IAC, ICRXPTC .. ICRXOC
    public const uint InterruptStatisticsLast = 0x4124;
    public const uint Rfctl = 0x5008;
    public const uint Mrqc = 0x5818;
    public const uint Manc2h = 0x5860;
    public const uint Rssim = 0x5864;
    public const uint Rssir = 0x5868;
    public const uint Gcr = 0x5B00;
    public const uint Factps = 0x5B30;
    public const uint Swsm = 0x5B50;
    public const uint Fwsm = 0x5B54;
    public const uint Swsm2 = 0x5B58;
    public const uint Gcr2 = 0x5B64;
    public const uint Reta = 0x5C00;         // 32 dwords
    public const uint Rssrk = 0x5C80;        // 10 dwords
    public const uint TimeSyncFirst = 0xB600; // SYSTIML .. RXUDP (IEEE 1588 block)
    public const uint TimeSyncLast = 0xB63C;
#pragma warning restore CS1591

    /// <summary>MSI-X vectors of the 82574 (RxQ0, RxQ1, TxQ0, TxQ1, other).</summary>
    public const int MsixVectors = 5;
}

/// <summary>Bit fields the 82574L adds or defines differently (82574 datasheet section 10; Linux e1000e defines.h).</summary>
public static class E1000eBits
{
#pragma warning disable CS1591
    // CTRL
    public const uint CtrlGioMasterDisable = 1u << 2;

    // EECD: bit 9 is AUTO_RD on the 82574 (SIZE on the 82540); the size lives in 14:11.
    public const uint EecdAutoRead = 1u << 9;

    // EERD / EEWR on the 82574: START bit 0, DONE bit 1, address 15:2, data 31:16.
    public const uint EerwStart = 1u << 0;
    public const uint EerwDone = 1u << 1;
    public const int EerwAddressShift = 2;
    public const int EerwDataShift = 16;

    // EEMNGCTL: CFG_DONE for port 0 (e1000_get_cfg_done_82571 polls it).
    public const uint EemngctlCfgDone0 = 1u << 18;

    // CTRL_EXT
    public const uint CtrlExtEeRst = 1u << 13;
    public const uint CtrlExtIame = 1u << 27;
    public const uint CtrlExtPbaClr = 1u << 31;
    public const uint CtrlExtEiame = 1u << 24;

    // ICR: the 82574's MSI-X summary causes and the legacy "interrupt asserted" flag.
    public const uint IcrRxq0 = 1u << 20;
    public const uint IcrRxq1 = 1u << 21;
    public const uint IcrTxq0 = 1u << 22;
    public const uint IcrTxq1 = 1u << 23;
    public const uint IcrOther = 1u << 24;
    public const uint IcrAsserted = 1u << 31;
    /// <summary>Causes the 82574 implements: the 8254x's plus the queue and "other" causes (bits 0..24).</summary>
    public const uint IcrImplemented = 0x01FF_FFFF;
    /// <summary>Causes that set ICR.OTHER in MSI-X mode (datasheet 7.4.5; QEMU E1000_ICR_OTHER_CAUSES: LSC, RXO, MDAC, SRPD, ACK, MNG).</summary>
    public const uint IcrOtherCauses = (1u << 2) | (1u << 6) | (1u << 9) | (1u << 16) | (1u << 17) | (1u << 18);

    // IVAR: 4-bit entries, vector in bits 2:0, valid bit 3.
    public const int IvarRxq0Shift = 0, IvarRxq1Shift = 4, IvarTxq0Shift = 8, IvarTxq1Shift = 12, IvarOtherShift = 16;
    public const uint IvarValid = 1u << 3;

    // RFCTL
    public const uint RfctlExtendedStatus = 1u << 15;

    // RCTL.DTYP (bits 11:10): 01 is packet split.
    public const uint RctlDtypMask = 3u << 10;

    // RXCSUM.PCSD: the RSS hash replaces the packet checksum/IP ID in the write-back.
    public const uint RxcsumPcsd = 1u << 13;

    // EXTCNF_CTRL.MDIO_SW_OWNERSHIP: the software semaphore Linux takes around PHY/NVM access.
    public const uint ExtcnfMdioSwOwnership = 1u << 5;
#pragma warning restore CS1591
}
