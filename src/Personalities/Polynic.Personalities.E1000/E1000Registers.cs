namespace Polynic.Personalities.E1000;

/// <summary>
/// 82540EM register offsets in BAR0 (8254x Family SDM, "Register Summary"; the names Linux
/// e1000_hw.h and QEMU e1000_regs.h use). Byte offsets, 32-bit registers.
/// </summary>
public static class E1000Registers
{
#pragma warning disable CS1591 // Datasheet mnemonics; the SDM is the documentation.
    public const uint Ctrl = 0x0000;
    public const uint Status = 0x0008;
    public const uint Eecd = 0x0010;
    public const uint Eerd = 0x0014;
    public const uint CtrlExt = 0x0018;
    public const uint Mdic = 0x0020;
    public const uint Fcal = 0x0028;
    public const uint Fcah = 0x002C;
    public const uint Fct = 0x0030;
    public const uint Vet = 0x0038;
    public const uint Icr = 0x00C0;
    public const uint Itr = 0x00C4;
    public const uint Ics = 0x00C8;
    public const uint Ims = 0x00D0;
    public const uint Imc = 0x00D8;
    public const uint Rctl = 0x0100;
    public const uint Fcttv = 0x0170;
    public const uint Txcw = 0x0178;
    public const uint Rxcw = 0x0180;
    public const uint Tctl = 0x0400;
    public const uint Tipg = 0x0410;
    public const uint Ait = 0x0458;
    public const uint Ledctl = 0x0E00;
    public const uint Pba = 0x1000;
    public const uint Fcrtl = 0x2160;
    public const uint Fcrth = 0x2168;
    public const uint Rdbal = 0x2800;
    public const uint Rdbah = 0x2804;
    public const uint Rdlen = 0x2808;
    public const uint Rdh = 0x2810;
    public const uint Rdt = 0x2818;
    public const uint Rdtr = 0x2820;
    public const uint Rxdctl = 0x2828;
    public const uint Radv = 0x282C;
    public const uint Rsrpd = 0x2C00;
    public const uint Txdmac = 0x3000;
    public const uint Tdbal = 0x3800;
    public const uint Tdbah = 0x3804;
    public const uint Tdlen = 0x3808;
    public const uint Tdh = 0x3810;
    public const uint Tdt = 0x3818;
    public const uint Tidv = 0x3820;
    public const uint Txdctl = 0x3828;
    public const uint Tadv = 0x382C;
    public const uint Tspmt = 0x3830;
    public const uint StatisticsFirst = 0x4000;
    public const uint StatisticsLast = 0x40FC;
    public const uint Rxcsum = 0x5000;
    public const uint Mta = 0x5200;
    public const uint Ral = 0x5400;
    public const uint Rah = 0x5404;
    public const uint Vfta = 0x5600;
    public const uint Wuc = 0x5800;
    public const uint Wufc = 0x5808;
    public const uint Wus = 0x5810;
    public const uint Manc = 0x5820;
    public const uint Ipav = 0x5838;
    public const uint Ip4at = 0x5840;
    public const uint Ip6at = 0x5880;
    public const uint Wupl = 0x5900;
    public const uint Wupm = 0x5A00;
    public const uint Fflt = 0x5F00;
#pragma warning restore CS1591

    /// <summary>Entries of the receive address table (RAL/RAH pairs, 8 bytes apart).</summary>
    public const int ReceiveAddressCount = 16;

    /// <summary>Words of the multicast table array (4096 bits).</summary>
    public const int MulticastTableWords = 128;

    /// <summary>Words of the VLAN filter table array (4096 VLAN IDs).</summary>
    public const int VlanTableWords = 128;
}

/// <summary>Bit fields of the 82540EM registers (8254x SDM, section 13; Linux e1000_hw.h).</summary>
public static class E1000Bits
{
#pragma warning disable CS1591
    // CTRL
    public const uint CtrlFd = 1u << 0;
    public const uint CtrlSlu = 1u << 6;
    public const uint CtrlIlos = 1u << 7;
    public const uint CtrlSpeedMask = 3u << 8;
    public const uint CtrlSpeed1000 = 2u << 8;
    public const uint CtrlSpeed100 = 1u << 8;
    public const uint CtrlFrcSpd = 1u << 11;
    public const uint CtrlFrcDpx = 1u << 12;
    public const uint CtrlSwdpin0 = 1u << 18;
    public const uint CtrlSwdpin2 = 1u << 20;
    public const uint CtrlRst = 1u << 26;
    public const uint CtrlRfce = 1u << 27;
    public const uint CtrlTfce = 1u << 28;
    public const uint CtrlVme = 1u << 30;
    public const uint CtrlPhyRst = 1u << 31;

    // STATUS
    public const uint StatusFd = 1u << 0;
    public const uint StatusLu = 1u << 1;
    public const uint StatusSpeed10 = 0u << 6;
    public const uint StatusSpeed100 = 1u << 6;
    public const uint StatusSpeed1000 = 2u << 6;
    public const uint StatusAsdv1000 = 2u << 8;
    public const uint StatusPci66 = 1u << 11;
    public const uint StatusBus64 = 1u << 12;

    // EECD
    public const uint EecdSk = 1u << 0;
    public const uint EecdCs = 1u << 1;
    public const uint EecdDi = 1u << 2;
    public const uint EecdDo = 1u << 3;
    public const uint EecdFwe = 3u << 4;
    public const uint EecdReq = 1u << 6;
    public const uint EecdGnt = 1u << 7;
    public const uint EecdPres = 1u << 8;
    public const uint EecdSize = 1u << 9;

    // MDIC
    public const uint MdicDataMask = 0xFFFF;
    public const int MdicRegisterShift = 16;
    public const int MdicPhyShift = 21;
    public const uint MdicOpWrite = 1u << 26;
    public const uint MdicOpRead = 2u << 26;
    public const uint MdicOpMask = 3u << 26;
    public const uint MdicReady = 1u << 28;
    public const uint MdicInterruptEnable = 1u << 29;
    public const uint MdicError = 1u << 30;

    // ICR / ICS / IMS / IMC
    public const uint IcrTxdw = 1u << 0;
    public const uint IcrTxqe = 1u << 1;
    public const uint IcrLsc = 1u << 2;
    public const uint IcrRxseq = 1u << 3;
    public const uint IcrRxdmt0 = 1u << 4;
    public const uint IcrRxo = 1u << 6;
    public const uint IcrRxt0 = 1u << 7;
    public const uint IcrMdac = 1u << 9;
    public const uint IcrTxdLow = 1u << 15;
    /// <summary>Causes the 82540 implements (bits 0..16, reserved bits 5 and 8 included: the ethtool interrupt test sets them through ICS).</summary>
    public const uint IcrImplemented = 0x0001_FFFF;

    // RCTL
    public const uint RctlEn = 1u << 1;
    public const uint RctlSbp = 1u << 2;
    public const uint RctlUpe = 1u << 3;
    public const uint RctlMpe = 1u << 4;
    public const uint RctlLpe = 1u << 5;
    public const int RctlLbmShift = 6;
    public const uint RctlLbmMask = 3u << 6;
    public const uint RctlLbmMac = 1u << 6;
    public const int RctlRdmtsShift = 8;
    public const uint RctlRdmtsMask = 3u << 8;
    public const int RctlMoShift = 12;
    public const uint RctlBam = 1u << 15;
    public const int RctlBsizeShift = 16;
    public const uint RctlVfe = 1u << 18;
    public const uint RctlBsex = 1u << 25;
    public const uint RctlSecrc = 1u << 26;

    // TCTL
    public const uint TctlEn = 1u << 1;
    public const uint TctlPsp = 1u << 3;

    // RDTR
    public const uint RdtrFlushPartial = 1u << 31;

    // RXCSUM
    public const uint RxcsumIpofl = 1u << 8;
    public const uint RxcsumTuofl = 1u << 9;

    // RAH
    public const uint RahAddressValid = 1u << 31;
#pragma warning restore CS1591
}
