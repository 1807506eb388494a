using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>The 82576 register map: one declaration per register, with its reset value, writable bits and hooks.</summary>
public sealed partial class IgbDevice
{
    // Power-on values QEMU's igb uses (igb_mac_reg_init), which Linux igb is known to accept.
    private const uint CtrlReset = CtrlFd | CtrlLrst | CtrlSpeed1000 | CtrlAdvd3wuc;
    private const uint TctlReset = TctlPsp | 0xFu << 4 | 0x40u << 12 | 1u << 26 | 0xAu << 28;

    /// <summary>
    /// Declares every register. Writable masks follow igb's register self-test (reg_test_82576,
    /// docs/igb-status.md): bits outside a mask read back 0.
    /// </summary>
    private void DeclareRegisters(RegisterFile r)
    {
        const RegisterAccess RO = RegisterAccess.ReadOnly;
        const RegisterAccess WO = RegisterAccess.WriteOnly;

        // General.
        r.Declare(Ctrl, "CTRL", CtrlReset, onWrite: OnCtrlWrite);
        r.Declare(Status, "STATUS", access: RO, onRead: (_, in _) => ComputeStatus());
        r.Declare(Eecd, "EECD", writeMask: EecdSk | EecdCs | EecdDi | EecdFwe | EecdReq,
            onRead: (_, in read) => Eeprom.ReadEecd(read.Value), onWrite: (_, in w) => Eeprom.WriteEecd(w.NewValue));
        r.Declare(Eerd, "EERD", onWrite: (file, in w) => file.Set(Eerd, Eeprom.ServeEerd(w.NewValue)));
        r.Declare(CtrlExt, "CTRL_EXT");
        r.Declare(Mdic, "MDIC", onWrite: OnMdicWrite);
        r.Declare(Fcal, "FCAL");
        r.Declare(Fcah, "FCAH", writeMask: 0xFFFF);
        r.Declare(Fct, "FCT", writeMask: 0xFFFF);
        // VET: the 802.1Q type in 15:0 (and the outer type of double VLAN in 31:16).
        r.Declare(Vet, "VET", 0x8100_8100, onWrite: (_, in w) => Filter.VlanTpid = (ushort)w.NewValue);
        r.Declare(Fcttv, "FCTTV", writeMask: 0xFFFF);
        r.Declare(Ledctl, "LEDCTL", 2 | 3u << 8 | 1u << 15 | 6u << 16 | 7u << 24);
        r.Declare(Fcrtl, "FCRTL", writeMask: 0x8000_FFF0);
        r.Declare(Fcrth, "FCRTH", writeMask: 0x0000_FFF0);
        r.Declare(Rxpbs, "RXPBS", 0x40);
        r.Declare(Txpbs, "TXPBS", 0x28);

        // Interrupts: the cause/mask state lives in IgbInterrupts.
        r.Declare(Icr, "ICR", access: RO,
            onRead: (_, in _) => Interrupts.ReadIcr(), onWrite: (_, in w) => Interrupts.Causes.Acknowledge(w.Written));
        r.Declare(Ics, "ICS", access: RO,
            onRead: (_, in _) => Interrupts.Causes.Cause, onWrite: (_, in w) => Interrupts.Causes.Raise(w.Written & IcrWritable));
        r.Declare(Ims, "IMS", access: RO,
            onRead: (_, in _) => Interrupts.Causes.Mask, onWrite: (_, in w) => Interrupts.Causes.Enable(w.Written & IcrWritable));
        r.Declare(Imc, "IMC", access: WO, onWrite: (_, in w) => Interrupts.Causes.Disable(w.Written));
        r.Declare(Iam, "IAM");
        r.Declare(Itr, "ITR", writeMask: 0xFFFF);
        r.Declare(Gpie, "GPIE");
        r.Declare(Eicr, "EICR", access: RO,
            onRead: (_, in _) => Interrupts.Extended.ReadAndClear(), onWrite: (_, in w) => Interrupts.Extended.Acknowledge(w.Written));
        r.Declare(Eics, "EICS", access: RO,
            onRead: (_, in _) => Interrupts.Extended.Cause, onWrite: (_, in w) => Interrupts.Extended.Raise(w.Written));
        r.Declare(Eims, "EIMS", access: RO,
            onRead: (_, in _) => Interrupts.Extended.Mask, onWrite: (_, in w) => Interrupts.Extended.Enable(w.Written));
        r.Declare(Eimc, "EIMC", access: WO, onWrite: (_, in w) => Interrupts.Extended.Disable(w.Written));
        r.Declare(Eiac, "EIAC");
        r.Declare(Eiam, "EIAM");
        // EITR: stored, not timed (see the class remarks).
        r.DeclareArray(Eitr, EitrCount, "EITR", writeMask: 0x7FFF_FFFC);
        r.DeclareArray(Ivar0, 8, "IVAR", writeMask: 0x9F9F_9F9F);
        r.Declare(IvarMisc, "IVAR_MISC", writeMask: 0x0000_9F9F);

        // Receive.
        r.Declare(Rctl, "RCTL", onWrite: (_, in w) =>
        {
            SyncReceiveControl();
            if ((w.NewValue & ~w.OldValue & RctlEn) != 0) ReceiveRoomAvailable();
        });
        r.Declare(Rxcsum, "RXCSUM", RxcsumIpofl | RxcsumTuofl, writeMask: 0x3FFF);
        r.Declare(Rlpml, "RLPML", 0x2600, writeMask: 0x3FFF);
        r.Declare(Rfctl, "RFCTL");
        r.Declare(Mrqc, "MRQC");
        r.Declare(VtCtl, "VT_CTL");
        r.DeclareArray(Reta, 32, "RETA");
        r.DeclareArray(Rssrk, 10, "RSSRK");
        r.DeclareArray(Psrtype, 8, "PSRTYPE");
        r.DeclareArray(Vmolr, 8, "VMOLR");
        r.Declare(Rplolr, "RPLOLR");
        r.DeclareArray(Vlvf, 32, "VLVF");
        r.DeclareArray(Mta, E1000Registers.MulticastTableWords, "MTA", onWrite: (_, in w) => Filter.SetHashWord(w.Element, w.NewValue));
        r.DeclareArray(Ral, 16, "RAL", stride: 8, onWrite: (_, in w) => SyncReceiveAddress(w.Element));
        r.DeclareArray(Rah, 16, "RAH", writeMask: 0x83FF_FFFF, stride: 8, onWrite: (_, in w) => SyncReceiveAddress(w.Element));
        r.DeclareArray(Ra2, 8, "RAL2", stride: 8, onWrite: (_, in w) => SyncReceiveAddress(16 + w.Element));
        r.DeclareArray(Ra2 + 4, 8, "RAH2", writeMask: 0x83FF_FFFF, stride: 8, onWrite: (_, in w) => SyncReceiveAddress(16 + w.Element));
        r.DeclareArray(Vfta, E1000Registers.VlanTableWords, "VFTA", onWrite: (_, in w) => Filter.SetVlanWord(w.Element, w.NewValue));
        r.DeclareArray(Uta, 128, "UTA");
        DeclareReceiveQueues(r);

        // Transmit.
        r.Declare(Tctl, "TCTL", TctlReset, onWrite: (_, in w) =>
        {
            if ((w.NewValue & ~w.OldValue & TctlEn) != 0) Transmitter.KickAll();
        });
        r.Declare(Tctl + 4, "TCTL_EXT", 0x40 | 0x42u << 10);
        r.Declare(Tipg, "TIPG", 0x08 | 0x04u << 10 | 0x06u << 20, writeMask: 0x3FFF_FFFF);
        r.Declare(Dtxctl, "DTXCTL");
        DeclareTransmitQueues(r);

        Statistics.Declare(r);
        // 82576 statistics beyond the 8254x block (interrupt causes, host counters): read to clear, never counted here.
        for (uint offset = InterruptStatisticsFirst; offset <= InterruptStatisticsLast; offset += 4)
            r.Declare(new RegisterSpec(offset, $"STAT{offset:X4}") { Access = RegisterAccess.ReadToClear, WriteMask = 0 });

        // Semaphores and management the driver touches at probe and reset: stored, no firmware behind them.
        r.Declare(Eemngctl, "EEMNGCTL", EemngctlCfgDone0 | 1u << 31, access: RO);
        r.Declare(Swsm, "SWSM");
        r.Declare(Fwsm, "FWSM", access: RO);
        r.Declare(SwFwSync, "SW_FW_SYNC");
        r.Declare(0x5B00, "GCR");
        r.Declare(0x5B74, "DCA_CTRL");
        r.Declare(0x1048, "FRTIMER");
        r.Declare(0x104C, "TCPTIMER");

        // Wake-up and manageability: stored so the driver's suspend path reads back what it wrote.
        r.Declare(Wuc, "WUC");
        r.Declare(Wufc, "WUFC");
        r.Declare(Wus, "WUS", access: RegisterAccess.WriteOneToClear);
        r.Declare(Manc, "MANC");
        r.Declare(Ipav, "IPAV");
        r.DeclareArray(Ip4at, 4, "IP4AT", stride: 8);
        r.DeclareArray(Ip6at, 4, "IP6AT");
        r.Declare(Wupl, "WUPL");
        r.DeclareArray(Wupm, 32, "WUPM");

        // IEEE 1588 time sync (igb_ptp_init programs TIMINCA and reads SYSTIM): stored, the clock does not run.
        for (uint offset = TimeSyncFirst; offset <= TimeSyncLast; offset += 4)
            r.Declare(offset, $"TSYNC{offset:X4}");
    }

    /// <summary>
    /// Receive queue n at 0xC000 + 0x40n (queues 0-3 also reach here from 0x2800 + 0x100n,
    /// <see cref="IgbRegisters.Canonical"/>). Masks as reg_test_82576; queue 0 is enabled at power-on.
    /// </summary>
    private void DeclareReceiveQueues(RegisterFile r)
    {
        const uint stride = QueueStride;
        r.DeclareArray(RxQueue(0, QBal), QueueCount, "RDBAL", writeMask: 0xFFFF_FFF0, stride: stride);
        r.DeclareArray(RxQueue(0, QBah), QueueCount, "RDBAH", stride: stride);
        r.DeclareArray(RxQueue(0, QLen), QueueCount, "RDLEN", writeMask: 0x000F_FFF0, stride: stride);
        r.DeclareArray(RxQueue(0, QSrrctl), QueueCount, "SRRCTL", 2 | 4u << 8, stride: stride);
        r.DeclareArray(RxQueue(0, QHead), QueueCount, "RDH", writeMask: 0xFFFF, stride: stride);
        r.DeclareArray(RxQueue(0, QDcaCtl), QueueCount, "RXCTL", stride: stride);
        r.DeclareArray(RxQueue(0, QTail), QueueCount, "RDT", writeMask: 0xFFFF, stride: stride, onWrite: (_, in _) => ReceiveRoomAvailable());
        r.Declare(RxQueue(0, QDctl), "RXDCTL", QueueEnable | 1u << 16, onWrite: (_, in _) => ReceiveRoomAvailable());
        r.DeclareArray(RxQueue(1, QDctl), QueueCount - 1, "RXDCTL", 1u << 16, stride: stride, onWrite: (_, in _) => ReceiveRoomAvailable());
        r.DeclareArray(RxQueue(0, QRqdpc), QueueCount, "RQDPC", access: RegisterAccess.ReadToClear, writeMask: 0, stride: stride);
    }

    /// <summary>Transmit queue n at 0xE000 + 0x40n (queues 0-3 also at 0x3800 + 0x100n); queue 0 is enabled at power-on.</summary>
    private void DeclareTransmitQueues(RegisterFile r)
    {
        const uint stride = QueueStride;
        r.DeclareArray(TxQueue(0, QBal), QueueCount, "TDBAL", writeMask: 0xFFFF_FFF0, stride: stride);
        r.DeclareArray(TxQueue(0, QBah), QueueCount, "TDBAH", stride: stride);
        r.DeclareArray(TxQueue(0, QLen), QueueCount, "TDLEN", writeMask: 0x000F_FFF0, stride: stride);
        r.DeclareArray(TxQueue(0, QHead), QueueCount, "TDH", writeMask: 0xFFFF, stride: stride);
        r.DeclareArray(TxQueue(0, QDcaCtl), QueueCount, "TXCTL", stride: stride);
        r.DeclareArray(TxQueue(0, QTail), QueueCount, "TDT", writeMask: 0xFFFF, stride: stride, onWrite: (_, in w) => Transmitter.Kick(w.Element));
        r.Declare(TxQueue(0, QDctl), "TXDCTL", QueueEnable, onWrite: (_, in w) => OnTxdctlWrite(0, w));
        r.DeclareArray(TxQueue(1, QDctl), QueueCount - 1, "TXDCTL", stride: stride, onWrite: (_, in w) => OnTxdctlWrite(1 + w.Element, w));
        r.DeclareArray(TxQueue(0, QTdwbal), QueueCount, "TDWBAL", stride: stride);
        r.DeclareArray(TxQueue(0, QTdwbah), QueueCount, "TDWBAH", stride: stride);
    }

    private void OnTxdctlWrite(int queue, in RegisterWrite write)
    {
        if ((write.NewValue & ~write.OldValue & QueueEnable) != 0) Transmitter.Kick(queue);
    }

    private void OnCtrlWrite(RegisterFile registers, in RegisterWrite write)
    {
        if ((write.NewValue & CtrlRst) != 0)
        {
            // RST self-clears: the reset puts CTRL back to its power-on value.
            ResetMac();
            if ((write.NewValue & CtrlPhyRst) != 0) ResetPhy();
            return;
        }
        if ((write.NewValue & ~write.OldValue & CtrlPhyRst) != 0) ResetPhy();
    }

    private void ResetPhy()
    {
        Phy.Reset();
        UpdateLinkStatus();
    }

    private void OnMdicWrite(RegisterFile registers, in RegisterWrite write)
    {
        registers.Set(Mdic, Phy.Access(write.NewValue, out bool interrupt));
        if (interrupt) Interrupts.Causes.Raise(IcrMdac);
        UpdateLinkStatus();
    }

    /// <summary>RCTL's filter bits into the receive filter (BAM, UPE, MPE, MO, VFE).</summary>
    private void SyncReceiveControl()
    {
        uint rctl = Registers.Get(Rctl);
        Filter.AcceptBroadcast = (rctl & RctlBam) != 0;
        Filter.PromiscuousUnicast = (rctl & RctlUpe) != 0;
        Filter.AllMulticast = (rctl & RctlMpe) != 0;
        Filter.IntelFilterOffset = (int)(rctl >> RctlMoShift) & 3;
        Filter.VlanFilterEnabled = (rctl & RctlVfe) != 0;
    }

    /// <summary>Receive address <paramref name="index"/> (0-15 at RAL/RAH, 16-23 at RA2) into the exact-address table (AV = valid).</summary>
    private void SyncReceiveAddress(int index)
    {
        uint low = index < 16 ? Registers.GetElement(Ral, index) : Registers.GetElement(Ra2, index - 16);
        uint high = index < 16 ? Registers.GetElement(Rah, index) : Registers.GetElement(Ra2 + 4, index - 16);
        Filter.SetExact(index, MacAddress.FromLowHigh(low, high & 0xFFFF), (high & RahAddressValid) != 0);
    }
}
