using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>The 82540EM register map: one declaration per register, with its reset value, writable bits and hooks.</summary>
public sealed partial class E1000Device
{
    // Power-on CTRL: SLU, 1000 Mb/s, SWDPIN0/2 (QEMU's reset value, which the drivers are known to accept).
    private const uint CtrlReset = CtrlSwdpin2 | CtrlSwdpin0 | CtrlSpeed1000 | CtrlSlu;

    /// <summary>
    /// Declares every register. Writable masks follow the ethtool register test (e1000_reg_test,
    /// expectations doc 2.1): bits outside a mask read back 0; reset values follow 8254x SDM 13.
    /// </summary>
    private void DeclareRegisters(RegisterFile r)
    {
        const RegisterAccess RO = RegisterAccess.ReadOnly;
        const RegisterAccess WO = RegisterAccess.WriteOnly;

        // General (SDM 13.4).
        r.Declare(Ctrl, "CTRL", CtrlReset, onWrite: OnCtrlWrite);
        r.Declare(Status, "STATUS", access: RO, onRead: (_, in _) => ComputeStatus());
        r.Declare(Eecd, "EECD", writeMask: EecdSk | EecdCs | EecdDi | EecdFwe | EecdReq,
            onRead: (_, in read) => Eeprom.ReadEecd(read.Value), onWrite: (_, in w) => Eeprom.WriteEecd(w.NewValue));
        r.Declare(Eerd, "EERD", onWrite: (file, in w) => file.Set(Eerd, Eeprom.ServeEerd(w.NewValue)));
        // 82574: EE_RST (bit 13) self-clears (the NVM reload completes at once).
        r.Declare(CtrlExt, "CTRL_EXT", writeMask: _model.Is82574 ? ~E1000eBits.CtrlExtEeRst : uint.MaxValue);
        r.Declare(Mdic, "MDIC", onWrite: OnMdicWrite);
        r.Declare(Fcal, "FCAL");
        r.Declare(Fcah, "FCAH", writeMask: 0xFFFF);
        r.Declare(Fct, "FCT", writeMask: 0xFFFF);
        r.Declare(Vet, "VET", 0x8100, writeMask: 0xFFFF, onWrite: (_, in w) => Filter.VlanTpid = (ushort)w.NewValue);
        r.Declare(Fcttv, "FCTTV", writeMask: 0xFFFF);
        r.Declare(Txcw, "TXCW", writeMask: 0xC000_FFFF);
        r.Declare(Rxcw, "RXCW", access: RO);
        r.Declare(Ledctl, "LEDCTL", 0x0706_8302);
        r.Declare(Pba, "PBA", _model.Is82574 ? 0x0014_0014u : 0x0010_0030u);

        // Interrupts (SDM 13.4.17-13.4.21): the cause/mask state lives in InterruptCauses.
        r.Declare(Icr, "ICR", access: RO,
            onRead: (_, in _) => ReadIcr(), onWrite: (_, in w) => WriteIcr(w.Written));
        r.Declare(Itr, "ITR", writeMask: 0xFFFF, onWrite: (_, in w) => Moderation.SetThrottle(w.NewValue));
        r.Declare(Ics, "ICS", access: RO,
            onRead: (_, in _) => Causes.Cause, onWrite: (_, in w) => Causes.Raise(w.Written & ImplementedCauses));
        r.Declare(Ims, "IMS", access: RO,
            onRead: (_, in _) => Causes.Mask, onWrite: (_, in w) => Causes.Enable(w.Written & ImplementedCauses));
        r.Declare(Imc, "IMC", access: WO, onWrite: (_, in w) => Causes.Disable(w.Written));

        // Receive (SDM 13.4.22-13.4.33).
        // The 82574 adds DTYP (bits 11:10, packet split).
        r.Declare(Rctl, "RCTL", writeMask: _model.Is82574 ? 0x06DF_BFFEu : 0x06DF_B3FEu, onWrite: (_, in w) =>
        {
            SyncReceiveControl();
            if ((w.NewValue & ~w.OldValue & RctlEn) != 0) Receiver.Drain();
        });
        r.Declare(Fcrtl, "FCRTL", writeMask: 0x8000_FFF8);
        r.Declare(Fcrth, "FCRTH", writeMask: 0x0000_FFF8);
        r.Declare(Rdbal, "RDBAL", writeMask: 0xFFFF_FFF0);
        r.Declare(Rdbah, "RDBAH");
        r.Declare(Rdlen, "RDLEN", writeMask: 0x000F_FF80);
        r.Declare(Rdh, "RDH", writeMask: 0xFFFF);
        r.Declare(Rdt, "RDT", writeMask: 0xFFFF, onWrite: (_, in _) =>
        {
            Receiver.Drain();
            ReceiveRoomAvailable();
        });
        // FPD (bit 31) is write-only: it flushes the receive timer and is not stored.
        r.Declare(Rdtr, "RDTR", writeMask: 0xFFFF, onWrite: (_, in w) =>
        {
            if ((w.Written & RdtrFlushPartial) != 0) Moderation.FlushReceive();
        });
        r.Declare(Rxdctl, "RXDCTL", 0x0001_0000);
        r.Declare(Radv, "RADV", writeMask: 0xFFFF);
        r.Declare(Rsrpd, "RSRPD", writeMask: 0xFFF);
        // The 82574 adds IPV6OFL (bit 10) and PCSD (bit 13).
        r.Declare(Rxcsum, "RXCSUM", writeMask: _model.Is82574 ? 0x27FFu : 0x3FFu);
        r.DeclareArray(Mta, MulticastTableWords, "MTA", onWrite: (_, in w) => Filter.SetHashWord(w.Element, w.NewValue));
        r.DeclareArray(Ral, ReceiveAddressCount, "RAL", stride: 8, onWrite: (_, in w) => SyncReceiveAddress(w.Element));
        r.DeclareArray(Rah, ReceiveAddressCount, "RAH", writeMask: 0x8003_FFFF, stride: 8, onWrite: (_, in w) => SyncReceiveAddress(w.Element));
        r.DeclareArray(Vfta, VlanTableWords, "VFTA", onWrite: (_, in w) => Filter.SetVlanWord(w.Element, w.NewValue));

        // Transmit (SDM 13.4.34-13.4.45).
        r.Declare(Tctl, "TCTL", onWrite: (_, in w) =>
        {
            if ((w.NewValue & ~w.OldValue & TctlEn) != 0) Transmitter.Kick();
        });
        r.Declare(Tipg, "TIPG", writeMask: 0x3FFF_FFFF);
        r.Declare(Ait, "AIT", writeMask: 0xFFFF);
        r.Declare(Txdmac, "TXDMAC");
        r.Declare(Tdbal, "TDBAL", writeMask: 0xFFFF_FFF0);
        r.Declare(Tdbah, "TDBAH");
        r.Declare(Tdlen, "TDLEN", writeMask: 0x000F_FF80);
        r.Declare(Tdh, "TDH", writeMask: 0xFFFF);
        r.Declare(Tdt, "TDT", writeMask: 0xFFFF, onWrite: (_, in _) => Transmitter.Kick());
        r.Declare(Tidv, "TIDV", writeMask: 0xFFFF);
        r.Declare(Txdctl, "TXDCTL");
        r.Declare(Tadv, "TADV", writeMask: 0xFFFF);
        r.Declare(Tspmt, "TSPMT", 0x0100_0400);

        Statistics.Declare(r);

        // Wake-up and manageability (SDM 13.6): stored so the driver's suspend path reads back what it wrote.
        r.Declare(Wuc, "WUC");
        r.Declare(Wufc, "WUFC");
        r.Declare(Wus, "WUS", access: RegisterAccess.WriteOneToClear);
        r.Declare(Manc, "MANC");
        r.Declare(Ipav, "IPAV");
        r.DeclareArray(Ip4at, 4, "IP4AT", stride: 8);
        r.DeclareArray(Ip6at, 4, "IP6AT");
        r.Declare(Wupl, "WUPL");
        r.DeclareArray(Wupm, 32, "WUPM");
        r.DeclareArray(Fflt, 4, "FFLT", stride: 8);
        r.DeclareArray(0x9000, 128, "FFMT", stride: 8);
        r.DeclareArray(0x9800, 128, "FFVT", stride: 8);
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
        Phy.Mii.Reset();
        Phy.ResetPages();
        UpdateLinkStatus();
    }

    private void OnMdicWrite(RegisterFile registers, in RegisterWrite write)
    {
        registers.Set(Mdic, Phy.Access(write.NewValue, out bool interrupt));
        if (interrupt) Causes.Raise(IcrMdac);
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

    /// <summary>RAL/RAH pair <paramref name="index"/> into the exact-address table (AV = valid).</summary>
    private void SyncReceiveAddress(int index)
    {
        uint low = Registers.GetElement(Ral, index);
        uint high = Registers.GetElement(Rah, index);
        Filter.SetExact(index, MacAddress.FromLowHigh(low, high & 0xFFFF), (high & RahAddressValid) != 0);
    }
}
