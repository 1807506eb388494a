namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// RTL8139C/C+ register offsets (RTL8139C(L)+ datasheet 1.6, section 6; the names follow Linux
/// 8139too.c and 8139cp.c). Both BARs (I/O and memory, 256 bytes each) decode the same registers.
/// In C+ mode some C-mode registers are reused: 0x10 is the tally-counter address (DTCCR) instead of
/// TSD0/1, 0x20 the normal-priority transmit ring (TNPDS) instead of TSAD0/1, 0x28 THPDS.
/// </summary>
internal static class Rtl8139Registers
{
    public const uint Idr0 = 0x00;          // IDR0-3
    public const uint Idr4 = 0x04;          // IDR4-5
    public const uint Mar0 = 0x08;          // MAR0-3
    public const uint Mar4 = 0x0C;          // MAR4-7
    public const uint Tsd0 = 0x10;          // TSD0-3 (C+: DTCCR at 0x10/0x14)
    public const uint Tsad0 = 0x20;         // TSAD0-3 (C+: TNPDS 0x20/0x24, THPDS 0x28/0x2C)
    public const uint RbStart = 0x30;
    public const uint EarlyRx = 0x34;       // ERBCR 0x34 (16), ERSR 0x36, ChipCmd 0x37
    public const uint Capr = 0x38;          // CAPR 0x38 (16), CBR 0x3A (16)
    public const uint Imr = 0x3C;           // IMR 0x3C (16), ISR 0x3E (16)
    public const uint TxConfig = 0x40;
    public const uint RxConfig = 0x44;
    public const uint TimerCount = 0x48;       // TCTR
    public const uint RxMissed = 0x4C;      // MPC, 24 bits
    public const uint Cfg9346 = 0x50;       // Cfg9346 0x50, Config0 0x51, Config1 0x52
    public const uint TimerInt = 0x54;
    public const uint MediaStatus = 0x58;   // MSR 0x58, Config3 0x59, Config4 0x5A, HltClk 0x5B
    public const uint MultiIntr = 0x5C;
    public const uint TxSummary = 0x60;     // TSAD 0x60 (16), BMCR 0x62 (16)
    public const uint Bmsr = 0x64;          // BMSR 0x64, ANAR 0x66
    public const uint Anlpar = 0x68;        // ANLPAR 0x68, ANER 0x6A
    public const uint Dis = 0x6C;           // disconnect counter, false carrier sense counter
    public const uint NwayTest = 0x70;
    public const uint Cscr = 0x74;          // CS configuration (16)
    public const uint Para78 = 0x78;
    public const uint Para7C = 0x7C;
    public const uint Config5 = 0xD8;       // Config5 0xD8, TPPoll 0xD9, RxMaxSize 0xDA
    public const uint CpCmd = 0xE0;         // C+ command 0xE0 (16), IntrMitigate 0xE2 (16)
    public const uint RdsarLow = 0xE4;
    public const uint RdsarHigh = 0xE8;
    public const uint TxThresh = 0xEC;
    public const int Size = 256;
}

/// <summary>Register bits used by the model.</summary>
internal static class Rtl8139Bits
{
    // ChipCmd (0x37).
    public const byte CmdReset = 0x10;
    public const byte CmdRxEnable = 0x08;
    public const byte CmdTxEnable = 0x04;
    public const byte CmdBufferEmpty = 0x01;

    // ISR/IMR (C mode names; C+ reuses the bits: 0x10 RxEmpty, 0x20 LinkChg, 0x80 TxEmpty).
    public const ushort IntRxOk = 0x0001;
    public const ushort IntRxErr = 0x0002;
    public const ushort IntTxOk = 0x0004;
    public const ushort IntTxErr = 0x0008;
    public const ushort IntRxOverflow = 0x0010;   // C+: Rx descriptor unavailable
    public const ushort IntLinkChange = 0x0020;   // packet underrun / link change
    public const ushort IntRxFifoOverflow = 0x0040;
    public const ushort IntTxEmpty = 0x0080;
    public const ushort IntSoftware = 0x0100;
    public const ushort IntTimeout = 0x4000;
    public const ushort IntSystemError = 0x8000;
    public const ushort IntImplemented = 0xE1FF;

    // TSD (C mode).
    public const uint TsdSizeMask = 0x1FFF;
    public const uint TsdOwn = 1u << 13;
    public const uint TsdUnderrun = 1u << 14;
    public const uint TsdOk = 1u << 15;
    public const uint TsdWritable = 0x003F_3FFF;   // SIZE, OWN, early threshold

    // RxConfig.
    public const uint RcrAcceptAllPhys = 0x01;
    public const uint RcrAcceptMyPhys = 0x02;
    public const uint RcrAcceptMulticast = 0x04;
    public const uint RcrAcceptBroadcast = 0x08;
    public const uint RcrWrap = 0x80;
    public const int RcrBufferLengthShift = 11;

    // C mode receive header status.
    public const ushort RxStatusOk = 0x0001;
    public const ushort RxStatusBroadcast = 0x2000;
    public const ushort RxStatusPhysical = 0x4000;
    public const ushort RxStatusMulticast = 0x8000;

    // TxConfig: hardware version bits (8139too.c HW_REVID: bits 30:26 and 23:22) are read-only.
    public const uint TcrRevisionMask = 0x7CC0_0000;
    public const uint TcrRevision8139C = 0x7400_0000;     // HW_REVID(1,1,1,0,1,0,0): "RTL-8139C"
    public const uint TcrRevision8139CPlus = 0x7480_0000; // HW_REVID(1,1,1,0,1,1,0): "RTL-8139C+"
    public const uint TcrLoopbackMask = 3u << 17;

    // Cfg9346.
    public const byte CfgModeMask = 0xC0;
    public const byte CfgModeProgram = 0x80;
    public const byte CfgModeConfigWrite = 0xC0;
    public const byte CfgEecs = 0x08;
    public const byte CfgEesk = 0x04;
    public const byte CfgEedi = 0x02;
    public const byte CfgEedo = 0x01;

    // MediaStatus.
    public const byte MsrLinkFail = 0x04;
    public const byte MsrSpeed10 = 0x08;

    // CSCR.
    public const ushort CscrLinkOk = 0x0400;

    // TPPoll (0xD9).
    public const byte PollNormal = 0x40;

    // C+ command (0xE0).
    public const ushort CpRxVlan = 1 << 6;
    public const ushort CpRxChecksum = 1 << 5;
    public const ushort CpRxOn = 1 << 1;
    public const ushort CpTxOn = 1 << 0;

    // DTCCR (0x10): dump tally counters.
    public const uint DumpStats = 1u << 3;

    // C+ descriptors (8139cp.c, datasheet 1.6 section 9): opts1.
    public const uint DescOwn = 1u << 31;
    public const uint DescRingEnd = 1u << 30;
    public const uint DescFirst = 1u << 29;
    public const uint DescLast = 1u << 28;
    public const uint TxLargeSend = 1u << 27;
    public const int TxMssShift = 16;
    public const uint TxMssMask = 0x7FF;
    public const uint TxIpChecksum = 1u << 18;
    public const uint TxUdpChecksum = 1u << 17;
    public const uint TxTcpChecksum = 1u << 16;
    public const uint TxLengthMask = 0xFFFF;
    public const uint TxVlanTag = 1u << 17;        // opts2
    public const uint RxMulticast = 1u << 26;
    public const uint RxPhysical = 1u << 25;
    public const uint RxBroadcast = 1u << 24;
    public const uint RxError = 1u << 20;
    public const uint RxErrorLong = 1u << 21;
    public const int RxProtocolShift = 16;
    public const uint RxProtocolTcp = 1, RxProtocolUdp = 2, RxProtocolIp = 3;
    public const uint RxIpFail = 1u << 15;
    public const uint RxUdpFail = 1u << 14;
    public const uint RxTcpFail = 1u << 13;
    public const uint RxLengthMask = 0x1FFF;
    public const uint RxVlanTagged = 1u << 16;     // opts2
}
