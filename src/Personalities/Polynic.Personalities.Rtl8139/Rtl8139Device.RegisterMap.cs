using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// The register map. The RTL8139 packs byte and word registers into dwords; each dword is declared
/// once and its hooks look at the byte lanes an access touched (<see cref="RegisterWrite.ByteMask"/>),
/// so a byte write to ChipCmd (0x37) or a word write to ISR (0x3E) acts on that register alone.
/// </summary>
public sealed partial class Rtl8139Device
{
    private const uint Lane0 = 0x0000_00FF, Lane1 = 0x0000_FF00, Lane2 = 0x00FF_0000, Lane3 = 0xFF00_0000;
    private const uint LowHalf = 0x0000_FFFF, HighHalf = 0xFFFF_0000;

    private void DeclareRegisters(RegisterFile r)
    {
        const RegisterAccess RO = RegisterAccess.ReadOnly;

        r.Declare(Idr0, "IDR0", onWrite: (_, in _) => SyncStationAddress());
        r.Declare(Idr4, "IDR4", writeMask: LowHalf, onWrite: (_, in _) => SyncStationAddress());
        r.Declare(Mar0, "MAR0", onWrite: (_, in w) => Filter.SetHashWord(0, w.NewValue));
        r.Declare(Mar4, "MAR4", onWrite: (_, in w) => Filter.SetHashWord(1, w.NewValue));
        r.DeclareArray(Tsd0, 4, "TSD", onWrite: (_, in w) => Transmitter.OnStatusWrite(w.Element, w.OldValue, w.NewValue));
        r.DeclareArray(Tsad0, 4, "TSAD");
        r.Declare(RbStart, "RBSTART");
        r.Declare(EarlyRx, "ERBCR/ERSR/CR", access: RO, onRead: (_, in _) => (uint)Receiver.CommandStatus(Command) << 24,
            onWrite: (_, in w) => { if ((w.ByteMask & Lane3) != 0) SetCommand((byte)(w.Written >> 24)); });
        // ERBCR/ERSR/CR are not stored: the write hook above sees the written bytes through Written, so the
        // register must store nothing (RO) yet still run the hook.
        r.Declare(Capr, "CAPR/CBR", writeMask: LowHalf,
            onRead: (_, in _) => Receiver.CaprRegister | (uint)Receiver.WriteOffset << 16,
            onWrite: (_, in w) => { if ((w.ByteMask & LowHalf) != 0) Receiver.SetCapr((ushort)w.NewValue); });
        r.Declare(Imr, "IMR/ISR", writeMask: LowHalf,
            onRead: (_, in _) => _causes is null ? 0 : _causes.Mask | _causes.Cause << 16,
            onWrite: OnInterruptWrite);
        r.Declare(TxConfig, "TCR", writeMask: ~TcrRevisionMask & ~1u,
            onRead: (_, in read) => read.Value | (IsCPlus ? TcrRevision8139CPlus : TcrRevision8139C));
        r.Declare(RxConfig, "RCR", writeMask: 0x0F0F_FFFF, onWrite: (_, in _) => SyncReceiveConfig());
        r.Declare(TimerCount, "TCTR", onWrite: (file, in _) => file.Set(TimerCount, 0));
        r.Declare(RxMissed, "MPC", writeMask: 0, onRead: (_, in _) => (uint)Math.Min(Receiver.Missed, 0xFF_FFFF),
            onWrite: (_, in _) => Receiver.Missed = 0);
        r.Declare(Cfg9346, "9346CR/CONFIG0/CONFIG1", writeMask: Lane2,
            onRead: (_, in read) => Eeprom.Read() | (read.Value & HighHalf),
            onWrite: OnCfg9346Write);
        r.Declare(TimerInt, "TimerInt");
        r.Declare(MediaStatus, "MSR/CONFIG3/CONFIG4/HLTCLK", writeMask: Lane1 | Lane2 | Lane3,
            onRead: (_, in read) => MediaStatusByte() | (read.Value & ~Lane0),
            onWrite: (file, in w) =>
            {
                if (!Eeprom.ConfigWritable) file.Set(MediaStatus, (w.OldValue & (Lane1 | Lane2)) | (w.NewValue & Lane3));
            });
        r.Declare(MultiIntr, "MULINT", writeMask: 0x0FFF);
        r.Declare(TxSummary, "TSAD/BMCR", writeMask: 0,
            onRead: (_, in read) => Transmitter.Summary() | ((read.ByteMask & HighHalf) != 0 ? (uint)Phy.Read(0) << 16 : 0),
            onWrite: (_, in w) => { if ((w.ByteMask & HighHalf) != 0) WritePhy(0, (ushort)(w.Written >> 16), w); });
        r.Declare(Bmsr, "BMSR/ANAR", writeMask: 0,
            onRead: (_, in read) => ((read.ByteMask & LowHalf) != 0 ? Phy.Read(1) : 0u) | ((read.ByteMask & HighHalf) != 0 ? (uint)Phy.Read(4) << 16 : 0),
            onWrite: (_, in w) => { if ((w.ByteMask & HighHalf) != 0) WritePhy(4, (ushort)(w.Written >> 16), w); });
        r.Declare(Anlpar, "ANLPAR/ANER", access: RO, onRead: (_, in _) => Phy.Read(5) | (uint)Phy.Read(6) << 16);
        r.Declare(Dis, "DIS/FCSC", access: RO);
        r.Declare(NwayTest, "NWAYTR/REC");
        r.Declare(Cscr, "CSCR", writeMask: 0xF3FF, onRead: (_, in read) => read.Value | (LinkUp ? CscrLinkOk : 0u));
        r.Declare(Para78, "PARA78");
        r.Declare(Para7C, "PARA7C");
        r.Declare(Config5, "CONFIG5/TPPOLL", writeMask: Lane0,
            onWrite: (file, in w) =>
            {
                if ((w.ByteMask & Lane0) != 0 && !Eeprom.ConfigWritable) file.Set(Config5, w.OldValue);
                if ((w.ByteMask & Lane1) != 0 && ((w.Written >> 8) & PollNormal) != 0) Transmitter.PollCPlus();
            });
        if (IsCPlus)
        {
            r.Declare(CpCmd, "CPCR/INTRMITIGATE", writeMask: 0xFFFF_007B, onWrite: (_, in w) =>
            {
                if ((w.NewValue & ~w.OldValue & CpRxOn) != 0) Receiver.Drain();
            });
            r.Declare(RdsarLow, "RDSAR", writeMask: 0xFFFF_FF00);
            r.Declare(RdsarHigh, "RDSAR_HI");
            r.Declare(TxThresh, "ETTHR", writeMask: 0x3F);
        }
    }

    private void OnInterruptWrite(RegisterFile file, in RegisterWrite w)
    {
        if (_causes is null) return;
        if ((w.ByteMask & LowHalf) != 0) _causes.SetMask(w.NewValue & LowHalf & IntImplemented);
        if ((w.ByteMask & HighHalf) != 0)
        {
            uint acknowledged = w.Written >> 16;
            _causes.Acknowledge(acknowledged);
            // 8139too acknowledges RxOK after every packet (rtl8139_isr_ack) and its NAPI poll only reads
            // the ring while ISR shows a receive bit: if it stops at its budget with packets left, a
            // cleared RxOK would strand them until another frame arrives, and here frames wait for
            // CAPR instead of overflowing. RxOK therefore stays set while unread packets remain.
            if ((acknowledged & IntRxOk) != 0 && !CPlusReceive && ReceiverEnabled && Receiver.HasUnread) _causes.Raise(IntRxOk);
        }
        // C+ has no receive doorbell: the driver's interrupt acknowledgement and mask restore at the end of
        // its poll (cp_rx_poll) are when new descriptors have been handed back.
        Receiver.Drain();
    }

    private void OnCfg9346Write(RegisterFile file, in RegisterWrite w)
    {
        if ((w.ByteMask & Lane0) != 0)
        {
            byte value = (byte)w.Written;
            if ((value & CfgModeMask) == 0x40)
            {
                // EEM = 01: autoload IDR from the EEPROM, then back to normal mode.
                LoadStationAddress();
                value = 0;
            }
            Eeprom.Write(value);
        }
        // Config1 (lane 2) needs EEM = 11 (the write already merged it; undo it if locked).
        if ((w.ByteMask & Lane2) != 0 && !Eeprom.ConfigWritable)
            file.Set(Cfg9346, w.OldValue & Lane2);
    }

    private void WritePhy(int register, ushort value, in RegisterWrite w)
    {
        bool wasUp = LinkUp;
        Phy.Write(register, value);
        if (wasUp != LinkUp) _causes?.Raise(IntLinkChange);
    }

    /// <summary>MSR (datasheet 6, Media Status): LINKB is 1 when the link failed, SPEED_10 when at 10 Mb/s.</summary>
    private uint MediaStatusByte()
    {
        uint v = 0;
        if (!LinkUp) v |= MsrLinkFail;
        if (Phy.Speed == Polynic.Core.Nic.Phy.LinkSpeed.Mbps10) v |= MsrSpeed10;
        return v;
    }
}
