namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// Registers the Intel 82576 (igb) has beyond the 8254x map, or has at other offsets (82576 GbE
/// Controller Datasheet, section 8 "Programming Interface"; the names Linux igb e1000_regs.h uses).
/// Byte offsets in BAR 0. The 8254x registers igb shares keep their <see cref="E1000Registers"/> names.
/// </summary>
public static class IgbRegisters
{
#pragma warning disable CS1591 // Datasheet mnemonics; the datasheet is the documentation.
    public const uint Eemngctl = 0x1010;
    public const uint Gpie = 0x1514;
    public const uint Eics = 0x1520;
    public const uint Eims = 0x1524;
    public const uint Eimc = 0x1528;
    public const uint Eiac = 0x152C;
    public const uint Eiam = 0x1530;
    public const uint Eicr = 0x1580;
    public const uint Iam = 0x00E0;
    public const uint Eitr = 0x1680;          // EITR[0..24], 4 bytes apart
    public const uint Ivar0 = 0x1700;         // IVAR0[0..7]
    public const uint IvarMisc = 0x1740;
    public const uint Rxpbs = 0x2404;
    public const uint Txpbs = 0x3404;
    public const uint Dtxctl = 0x3590;
    public const uint Rlpml = 0x5004;
    public const uint Rfctl = 0x5008;
    public const uint Mrqc = 0x5818;
    public const uint VtCtl = 0x581C;
    public const uint Ra2 = 0x54E0;           // RAL/RAH 16..23
    public const uint Psrtype = 0x5480;       // PSRTYPE[0..7]
    public const uint Vmolr = 0x5AD0;         // VMOLR[0..7]
    public const uint Rplolr = 0x5AF0;
    public const uint Reta = 0x5C00;          // 32 dwords, one byte per entry
    public const uint Rssrk = 0x5C80;         // 10 dwords
    public const uint Vlvf = 0x5D00;          // 32 entries
    public const uint Swsm = 0x5B50;
    public const uint Fwsm = 0x5B54;
    public const uint SwFwSync = 0x5B5C;
    public const uint Uta = 0xA000;           // 128 dwords
    public const uint InterruptStatisticsFirst = 0x4100;
    public const uint InterruptStatisticsLast = 0x41FC;
    public const uint TimeSyncFirst = 0xB600; // SYSTIML .. (IEEE 1588 block)
    public const uint TimeSyncLast = 0xB6FC;

    // Queue register blocks (datasheet 8.10, 8.12): queue n at 0xC000 + 0x40n (receive) and
    // 0xE000 + 0x40n (transmit); queues 0-3 also at 0x2800 + 0x100n and 0x3800 + 0x100n.
    public const uint RxQueueBase = 0xC000;
    public const uint TxQueueBase = 0xE000;
    public const uint QueueStride = 0x40;
    public const uint RxQueueAliasBase = 0x2800;
    public const uint TxQueueAliasBase = 0x3800;
    public const uint QueueAliasStride = 0x100;

    // Offsets inside a queue block.
    public const uint QBal = 0x00, QBah = 0x04, QLen = 0x08, QSrrctl = 0x0C, QHead = 0x10, QDcaCtl = 0x14, QTail = 0x18, QDctl = 0x28, QRqdpc = 0x30;
    public const uint QTdwbal = 0x38, QTdwbah = 0x3C;
#pragma warning restore CS1591

    /// <summary>Receive and transmit queues of the 82576 (datasheet 7.1.1, 7.2.1).</summary>
    public const int QueueCount = 16;

    /// <summary>MSI-X vectors of the 82576 (datasheet 7.3.1; QEMU IGB_MSIX_VEC_NUM).</summary>
    public const int MsixVectors = 10;

    /// <summary>Receive address entries (Linux E1000_RAR_ENTRIES_82576): 16 at RAL/RAH, 8 at RA2.</summary>
    public const int IgbReceiveAddressCount = 24;

    /// <summary>EITR registers (one per possible vector; the 82576 has 25).</summary>
    public const int EitrCount = 25;

    /// <summary>Receive queue <paramref name="n"/>'s register <paramref name="register"/> in the 0xC000 block.</summary>
    public static uint RxQueue(int n, uint register) => RxQueueBase + (uint)n * QueueStride + register;

    /// <summary>Transmit queue <paramref name="n"/>'s register <paramref name="register"/> in the 0xE000 block.</summary>
    public static uint TxQueue(int n, uint register) => TxQueueBase + (uint)n * QueueStride + register;

    /// <summary>
    /// The offset a register access means: queues 0-3 are also decoded at their 8254x-compatible
    /// addresses (0x2800 + 0x100n, 0x3800 + 0x100n; Linux E1000_RDBAL(n) uses those for n &lt; 4),
    /// which reach the same registers as 0xC000 + 0x40n and 0xE000 + 0x40n. Other offsets are unchanged.
    /// </summary>
    public static ulong Canonical(ulong offset)
    {
        if (offset >= RxQueueAliasBase && offset < RxQueueAliasBase + 4 * QueueAliasStride && (offset & 0xFF) < QueueStride)
            return RxQueueBase + (offset - RxQueueAliasBase) / QueueAliasStride * QueueStride + (offset & 0x3F);
        if (offset >= TxQueueAliasBase && offset < TxQueueAliasBase + 4 * QueueAliasStride && (offset & 0xFF) < QueueStride)
            return TxQueueBase + (offset - TxQueueAliasBase) / QueueAliasStride * QueueStride + (offset & 0x3F);
        return offset;
    }
}

/// <summary>Bit fields of the 82576 registers (datasheet section 8; Linux igb e1000_defines.h).</summary>
public static class IgbBits
{
#pragma warning disable CS1591
    // CTRL
    public const uint CtrlLrst = 1u << 3;
    public const uint CtrlGioMasterDisable = 1u << 2;
    public const uint CtrlAdvd3wuc = 1u << 20;

    // STATUS
    public const uint StatusGioMasterEnable = 1u << 19;

    // CTRL_EXT: LINK_MODE 23:22 (0 = copper through the internal PHY).
    public const uint CtrlExtLinkModeMask = 3u << 22;

    // EECD (82576): AUTO_RD bit 9, SIZE_EX 14:11, as on the 82574.
    public const uint EecdAutoRead = 1u << 9;

    // EEMNGCTL: CFG_DONE of port 0 (igb_get_cfg_done_82575 polls it).
    public const uint EemngctlCfgDone0 = 1u << 18;

    // ICR / ICS / IMS / IMC / IAM: TXDW, LSC, RXDMT0, RXO and MDAC as on the 8254x (E1000Bits).
    public const uint IcrRxdw = 1u << 7;      // RXT0 on the 8254x
    public const uint IcrDoutsync = 1u << 28;
    public const uint IcrDrsta = 1u << 30;
    public const uint IcrIntAsserted = 1u << 31;
    /// <summary>Causes ICS may set: every bit but INT_ASSERTED (igb's self-test sets those of 0x77D4FBFD one by one).</summary>
    public const uint IcrWritable = 0x7FFF_FFFF;

    // GPIE
    public const uint GpieNsicr = 1u << 0;
    public const uint GpieMsixMode = 1u << 4;
    public const uint GpieEiame = 1u << 30;
    public const uint GpiePba = 1u << 31;

    // IVAR entries: one byte, vector 4:0, valid bit 7.
    public const uint IvarValid = 0x80;
    public const uint IvarVectorMask = 0x1F;

    // SRRCTL
    public const uint SrrctlBsizePacketMask = 0x7F;       // 1 KiB units
    public const int SrrctlDescTypeShift = 25;
    public const uint SrrctlDescTypeMask = 7u << 25;
    public const uint SrrctlDescTypeAdvancedOneBuffer = 1u << 25;
    public const uint SrrctlDropEnable = 1u << 31;

    // RXDCTL / TXDCTL
    public const uint QueueEnable = 1u << 25;

    // MRQC: MRQE 2:0 (0 = one queue, 2 = RSS; Linux E1000_MRQC_ENABLE_RSS_MQ), hash fields 31:16.
    public const uint MrqcEnableMask = 7;
    public const uint MrqcEnableRss = 2;
    public const uint MrqcRssIPv4Tcp = 1u << 16;
    public const uint MrqcRssIPv4 = 1u << 17;
    public const uint MrqcRssIPv6Tcp = 1u << 21;
    public const uint MrqcRssIPv6 = 1u << 20;
    public const uint MrqcRssIPv4Udp = 1u << 22;
    public const uint MrqcRssIPv6Udp = 1u << 23;

    // RXCSUM
    public const uint RxcsumPcsd = 1u << 13;
#pragma warning restore CS1591
}
