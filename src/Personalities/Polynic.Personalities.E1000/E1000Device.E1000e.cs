using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000eBits;
using static Polynic.Personalities.E1000.E1000eRegisters;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>What the 82574L (e1000e) adds to the shared 8254x register map and interrupt rules.</summary>
public sealed partial class E1000Device
{
    /// <summary>
    /// Creates an Intel 82574L (8086:10D3), driven by Linux e1000e: the 8254x behaviour with the
    /// 82574's NVM, BME1000 PHY, MSI-X/MSI, IVAR routing and extended receive descriptors.
    /// </summary>
    public static E1000Device Create82574L(NicSettings settings) => new(settings, TimeProvider.System, E1000Model.I82574L);

    /// <summary>Creates an 82574L whose moderation timers run on <paramref name="time"/> (tests).</summary>
    internal static E1000Device Create82574L(NicSettings settings, TimeProvider time) => new(settings, time, E1000Model.I82574L);

    /// <summary>Whether this device is the 82574L.</summary>
    internal bool Is82574 => _model.Is82574;

    /// <summary>MSI-X routing of the 82574 (null on the 8254x).</summary>
    internal MsixCauseRouting? VectorRouting { get; private set; }

    /// <summary>Interrupt causes ICS and IMS accept: bits 0..16 on the 8254x, 0..24 on the 82574.</summary>
    private uint ImplementedCauses => _model.Is82574 ? E1000eBits.IcrImplemented : E1000Bits.IcrImplemented;

    /// <summary>
    /// ICR read. 8254x: the causes, cleared. 82574 (datasheet 10.2.4.1): the same, with INT_ASSERTED
    /// (bit 31, which Linux e1000e's INTx handler requires) when any cause was set, and with
    /// CTRL_EXT.IAME the IAM bits masked in IMS (e1000e sets IAME and IAM = all for INTx and MSI).
    /// </summary>
    private uint ReadIcr()
    {
        uint value = Causes.ReadAndClear();
        if (!_model.Is82574 || value == 0) return value;
        if ((Registers.Get(CtrlExt) & CtrlExtIame) != 0) Causes.Disable(Registers.Get(Iam));
        return value | IcrAsserted;
    }

    /// <summary>ICR write-one-to-clear; on the 82574 clearing OTHER clears the causes it summarises (as QEMU's e1000e).</summary>
    private void WriteIcr(uint written)
    {
        if (_model.Is82574 && (written & IcrOther) != 0) written |= IcrOtherCauses;
        Causes.Acknowledge(written);
    }

    /// <summary>The 82574's registers beyond the 8254x map (82574 datasheet, section 10).</summary>
    private void Declare82574Registers(RegisterFile r)
    {
        const RegisterAccess RO = RegisterAccess.ReadOnly;

        // Interrupts: MSI-X routing and auto-clear/auto-mask (7.4.2, 10.2.4).
        r.Declare(Eiac, "EIAC", writeMask: IcrRxq0 | IcrRxq1 | IcrTxq0 | IcrTxq1 | IcrOther);
        r.Declare(Iam, "IAM");
        r.Declare(Ivar, "IVAR", writeMask: 0x800F_FFFF);
        r.DeclareArray(Eitr, MsixVectors, "EITR", writeMask: 0xFFFF);

        // Semaphores and management the driver touches at probe and reset: stored, no firmware behind them.
        r.Declare(ExtcnfCtrl, "EXTCNF_CTRL", 1u << 3);
        r.Declare(ExtcnfSize, "EXTCNF_SIZE");
        r.Declare(Poemb, "POEMB");
        r.Declare(Pbs, "PBS", 0x28);
        r.Declare(Eemngctl, "EEMNGCTL", EemngctlCfgDone0 | 1u << 31, access: RO);
        r.Declare(Eewr, "EEWR", EerwDone, onWrite: (file, in w) => file.Set(Eewr, Eeprom.ServeEewr(w.NewValue)));
        r.Declare(PbaEcc, "PBA_ECC");
        r.Declare(Swsm, "SWSM");
        r.Declare(Fwsm, "FWSM", access: RO);
        r.Declare(Swsm2, "SWSM2");
        r.Declare(Factps, "FACTPS");
        r.Declare(Manc2h, "MANC2H");
        r.Declare(Gcr, "GCR");
        r.Declare(Gcr2, "GCR2");

        // Receive: packet split control, extended status (RFCTL.EXSTEN), RSS, the second queue's registers.
        r.Declare(Psrctl, "PSRCTL", (2u << 0) | (4u << 8) | (4u << 16));
        r.Declare(Raid, "RAID", writeMask: 0xFFFF);
        r.Declare(Rfctl, "RFCTL");
        r.Declare(Mrqc, "MRQC");
        r.Declare(Rssim, "RSSIM");
        r.Declare(Rssir, "RSSIR");
        r.DeclareArray(Reta, 32, "RETA");
        r.DeclareArray(Rssrk, 10, "RSSRK");
        r.Declare(Rdbal1, "RDBAL1", writeMask: 0xFFFF_FFF0);
        r.Declare(Rdbal1 + 0x04, "RDBAH1");
        r.Declare(Rdbal1 + 0x08, "RDLEN1", writeMask: 0x000F_FF80);
        r.Declare(Rdbal1 + 0x10, "RDH1", writeMask: 0xFFFF);
        r.Declare(Rdbal1 + 0x18, "RDT1", writeMask: 0xFFFF);
        r.Declare(Rdbal1 + 0x28, "RXDCTL1", 0x0001_0000);

        // Transmit: arbitration and the second queue's registers (Linux uses queue 0 only).
        r.Declare(Tarc0, "TARC0", 0x3 | 1u << 10);
        r.Declare(Tarc1, "TARC1", 0x3 | 1u << 10);
        r.Declare(Tdbal1, "TDBAL1", writeMask: 0xFFFF_FFF0);
        r.Declare(Tdbal1 + 0x04, "TDBAH1");
        r.Declare(Tdbal1 + 0x08, "TDLEN1", writeMask: 0x000F_FF80);
        r.Declare(Tdbal1 + 0x10, "TDH1", writeMask: 0xFFFF);
        r.Declare(Tdbal1 + 0x18, "TDT1", writeMask: 0xFFFF);
        r.Declare(Tdbal1 + 0x28, "TXDCTL1");

        // Interrupt statistics (IAC, ICRXPTC .. ICRXOC): read to clear, never counted here.
        for (uint offset = InterruptStatisticsFirst; offset <= InterruptStatisticsLast; offset += 4)
            r.Declare(new RegisterSpec(offset, $"STAT{offset:X4}") { Access = RegisterAccess.ReadToClear, WriteMask = 0 });

        // IEEE 1588 time sync (e1000e programs TIMINCA and TSYNC*CTL at open and reads them back): stored.
        for (uint offset = TimeSyncFirst; offset <= TimeSyncLast; offset += 4)
            r.Declare(offset, $"TSYNC{offset:X4}");
    }

    /// <summary>
    /// Whether receive descriptors use the extended format (RFCTL.EXSTEN, 82574 datasheet 7.1.4; Linux
    /// e1000e always sets it). The 8254x has only the legacy format.
    /// </summary>
    internal bool ExtendedReceiveDescriptors => _model.Is82574 && (Registers.Get(Rfctl) & RfctlExtendedStatus) != 0;

    /// <summary>Whether receive descriptors are the 82574's 32-byte packet-split ones (extended format with RCTL.DTYP = 01).</summary>
    public bool PacketSplitReceive => ExtendedReceiveDescriptors && (Registers.Get(Rctl) & RctlDtypMask) == 1u << 10;

}
