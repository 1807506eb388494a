using Microsoft.Extensions.Logging;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Nic.Phy;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// Realtek RTL8139C (10EC:8139, PCI revision below 0x20, driven by Linux 8139too) and RTL8139C+
/// (revision 0x20 and up, driven by 8139cp; 8139too refuses it). Both drivers bind to the same ID;
/// Linux chooses by the PCI revision, so the revision given here picks the chip.
/// </summary>
/// <remarks>
/// <para>
/// BAR0: 256 bytes of I/O space, BAR1: 256 bytes of memory space, both decoding the same
/// registers (<see cref="Rtl8139Registers"/>). INTx only, as the part.
/// </para>
/// <para>
/// C mode: four transmit slots (TSD/TSAD) and the receive ring buffer (RBSTART, CAPR, CBR),
/// see <see cref="ReceivePath"/> and <see cref="TransmitPath"/>. C+ mode (C+ chip only, entered by
/// CPCR RxOn/TxOn): descriptor rings at RDSAR and TNPDS with checksum offload, VLAN and large send.
/// Everything runs under the <see cref="NicDevice"/> lock.
/// </para>
/// </remarks>
public sealed partial class Rtl8139Device : NicDevice
{
    /// <summary>Size of each BAR.</summary>
    public const int BarSize = Rtl8139Registers.Size;

    /// <summary>First PCI revision Linux treats as a C+ chip (8139too.c and 8139cp.c probe checks).</summary>
    public const byte CPlusRevision = 0x20;

    private InterruptCauses? _causes;

    /// <summary>Creates an RTL8139 with station address <see cref="NicSettings.Mac"/>.</summary>
    /// <param name="settings">Station address.</param>
    /// <param name="revision">PCI revision: below 0x20 an RTL8139C for 8139too, 0x20 and up an RTL8139C+ for 8139cp.</param>
    public Rtl8139Device(NicSettings settings, byte revision = 0x10) : base(settings)
    {
        Revision = revision;
        Eeprom = new Rtl8139Eeprom(settings.Mac);
        Phy = Rtl8139Phy.Create();
        Filter = new ReceiveFilter(1, 64, MulticastHashKind.EthernetCrcTop6) { BroadcastUsesGroupFilters = false };
        Registers = new RegisterFile(BarSize);
        Faults = new FaultLog();
        Receiver = new ReceivePath(this);
        Transmitter = new TransmitPath(this);
        DeclareRegisters(Registers);
        Definition = new PciFunctionDefinition
        {
            Identity = new PciIdentity(
                VendorId: 0x10EC, DeviceId: 0x8139, ClassCode: 0x020000, Revision: revision,
                SubsystemVendorId: 0x10EC, SubsystemId: 0x8139, InterruptPin: 1),
            Bars =
            [
                new BarDefinition(0, BarKind.Io, BarSize),
                new BarDefinition(1, BarKind.Memory32, BarSize),
            ],
            PowerManagement = new PowerManagementCapability(),
        };
        PowerOnReset();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition { get; }

    /// <summary>The PCI revision this chip reports.</summary>
    public byte Revision { get; }

    /// <summary>Whether this is the C+ chip (C+ registers and descriptor mode exist).</summary>
    public bool IsCPlus => Revision >= CPlusRevision;

    internal RegisterFile Registers { get; }
    internal Rtl8139Eeprom Eeprom { get; }
    internal MiiPhy Phy { get; }
    internal ReceiveFilter Filter { get; }
    internal ReceivePath Receiver { get; }
    internal TransmitPath Transmitter { get; }
    internal FaultLog Faults { get; }
    internal TallyCounters Tally;
    internal InterruptCauses Causes => _causes ?? throw new InvalidOperationException("The NIC is not attached to a PCI function yet.");
    internal IGuestMemory Dma => Context.Dma;
    internal ILogger Log => Context.Log;

    /// <summary>ChipCmd RE/TE as last written (the reset bit self-clears).</summary>
    internal byte Command { get; private set; }

    internal bool ReceiverEnabled => (Command & CmdRxEnable) != 0;
    internal bool TransmitterEnabled => (Command & CmdTxEnable) != 0;
    internal ushort CPlusCommand => IsCPlus ? (ushort)Registers.Get(CpCmd) : (ushort)0;
    internal bool CPlusReceive => (CPlusCommand & CpRxOn) != 0;
    internal bool CPlusTransmit => (CPlusCommand & CpTxOn) != 0;
    internal bool LinkUp => Phy.EffectiveLinkUp;
    internal bool Loopback => (Registers.Get(TxConfig) & TcrLoopbackMask) == TcrLoopbackMask;

    /// <inheritdoc/>
    protected override void OnAttached() => _causes = new InterruptCauses(Context.Interrupts);

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        if (bar is 0 or 1) Registers.Read(offset, data);
        else data.Clear();
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar is 0 or 1) Registers.Write(offset, data);
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    protected override void ResetDevice()
    {
        Phy.Reset();
        PowerOnReset();
    }

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => Receiver.FromWire(frame);

    /// <inheritdoc/>
    protected override bool CanReceive(int frameLength) => Receiver.HasRoomFor(frameLength);

    /// <summary>The receive FIFO gave frames to the guest: a port thread held back by <see cref="CanReceive"/> may go on.</summary>
    internal void ReceiveRoomFreed() => ReceiveRoomAvailable();

    /// <inheritdoc/>
    protected override void OnLinkChanged(bool up)
    {
        Phy.SetLink(up);
        // ISR bit 5 (C: "packet underrun/link change", C+: LinkChg); 8139cp rechecks the media on it.
        _causes?.Raise(IntLinkChange);
    }

    /// <summary>Power-on: every register to its reset value, the station address loaded from the EEPROM (autoload).</summary>
    private void PowerOnReset()
    {
        Registers.Reset();
        Eeprom.Reset();
        Filter.Reset();
        Filter.BroadcastUsesGroupFilters = false;
        LoadStationAddress();
        Filter.SetHashWord(0, 0);
        Filter.SetHashWord(1, 0);
        Tally = default;
        SoftReset();
    }

    /// <summary>IDR0-5 from EEPROM words 7-9 (power-on autoload, or Cfg9346 EEM = 01).</summary>
    private void LoadStationAddress()
    {
        var (low, high) = Eeprom.MacAddress.ToLowHigh();
        Registers.Set(Idr0, low);
        Registers.Set(Idr4, high & 0xFFFF);
        SyncStationAddress();
    }

    /// <summary>
    /// ChipCmd RST (datasheet 6, "Command Register"): transmitter and receiver off, FIFOs and buffer
    /// pointers reinitialised, interrupts cleared; IDR and MAR are kept. Completes at once, so the
    /// drivers' poll for the bit to clear ends on the first read.
    /// </summary>
    internal void SoftReset()
    {
        Command = 0;
        _causes?.Reset();
        for (int i = 0; i < 4; i++) Registers.SetElement(Tsd0, i, TsdOwn);
        Registers.Set(Imr, 0);
        Registers.Set(RxConfig, 0);
        Registers.Set(TxConfig, 0);
        Registers.Set(CpCmd, 0);
        SyncReceiveConfig();
        Receiver.Reset();
        Transmitter.Reset();
    }

    internal void SyncStationAddress()
    {
        var mac = MacAddress.FromLowHigh(Registers.Get(Idr0), Registers.Get(Idr4) & 0xFFFF);
        Filter.SetExact(0, mac, (Registers.Get(RxConfig) & RcrAcceptMyPhys) != 0);
    }

    /// <summary>RxConfig accept bits into the filter (AAP, APM, AM, AB) and the ring buffer length.</summary>
    internal void SyncReceiveConfig()
    {
        uint rcr = Registers.Get(RxConfig);
        Filter.PromiscuousUnicast = (rcr & RcrAcceptAllPhys) != 0;
        Filter.MulticastHashEnabled = (rcr & RcrAcceptMulticast) != 0;
        Filter.AcceptBroadcast = (rcr & RcrAcceptBroadcast) != 0;
        SyncStationAddress();
        Receiver.Configure(rcr);
    }

    internal void SetCommand(byte value)
    {
        if ((value & CmdReset) != 0)
        {
            SoftReset();
            return;
        }
        byte old = Command;
        Command = (byte)(value & (CmdRxEnable | CmdTxEnable));
        if ((Command & ~old & CmdRxEnable) != 0) Receiver.Drain();
    }

    /// <summary>Sends a frame the descriptors or a slot describe through the NIC core's egress.</summary>
    internal TransmitResult Send(Span<byte> frame, in FrameOffload offload) => Transmit(frame, offload);

    /// <inheritdoc/>
    /// <remarks>TCR LBK = 11: transmitted frames go back to the receiver (datasheet 6, Transmit Configuration Register).</remarks>
    protected override bool LoopingBack => Loopback;

    /// <inheritdoc/>
    /// <remarks>The PHY must have link (a powered-down or isolated PHY carries nothing).</remarks>
    protected override bool TransmitLinkUp => LinkUp;

    /// <inheritdoc/>
    /// <remarks>The C+ transmitter pads short packets to the Ethernet minimum itself; the C-mode slots send what TSD SIZE says.</remarks>
    protected override int MinimumTransmitLength => CPlusTransmit ? 60 : 0;

    internal void Fault(string what, ulong detail)
    {
        if (_causes is not null) Faults.Warn(Log, what, detail);
    }
}

/// <summary>The C+ tally counters (DTCCR dump, 8139cp struct cp_dma_stats).</summary>
internal struct TallyCounters
{
    public ulong TxOk, RxOk, TxErrors;
    public uint RxErrors;
    public ushort MissedPackets;
    public ulong RxPhysical, RxBroadcast;
    public uint RxMulticast;
    public ushort TxAborted;
}
