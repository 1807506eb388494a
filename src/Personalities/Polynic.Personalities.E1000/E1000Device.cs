using Microsoft.Extensions.Logging;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Nic.Phy;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// Intel 82540EM Gigabit Ethernet Controller (8086:100E), the NIC QEMU calls "e1000" (and, through
/// <see cref="Create82574L(NicSettings)"/>, the 82574L QEMU calls "e1000e"): the stock
/// Linux e1000 (e1000e) driver, its ethtool self-test and iPXE drive it unmodified
/// (docs/personalities/e1000-driver-expectations.md lists what each expects).
/// </summary>
/// <remarks>
/// <para>
/// BAR0: 128 KiB of registers (<see cref="E1000Registers"/>). BAR1: the 64-byte I/O window
/// (IOADDR/IODATA) through which Linux resets the 82540. INTx only, like the real part. The 82574L's
/// layout, MSI/MSI-X and other differences are in E1000Device.E1000e.cs and <see cref="E1000Model.I82574L"/>.
/// </para>
/// <para>
/// This class wires the parts together; each part is one concept: the register map
/// (E1000Device.RegisterMap.cs), the EEPROM (<see cref="E1000Eeprom"/>), the PHY behind MDIC
/// (<see cref="M88E1011Phy"/>), transmit and receive descriptor processing, interrupt moderation,
/// statistics and the I/O window. Everything runs under the <see cref="NicDevice"/> lock.
/// </para>
/// </remarks>
public sealed partial class E1000Device : NicDevice
{
    /// <summary>Size of the register BAR (Linux MAC_DECODE_SIZE).</summary>
    public const int RegisterBarSize = 128 * 1024;

    /// <summary>PCI identity of the 82540EM (subsystem as in its EEPROM words 0x0B/0x0C).</summary>
    public static readonly PciIdentity Identity = new(
        VendorId: 0x8086, DeviceId: 0x100E, ClassCode: 0x020000, Revision: 0x03,
        SubsystemVendorId: 0x8086, SubsystemId: 0x100E, InterruptPin: 1);

    private readonly TimeProvider _time;
    private readonly E1000Model _model;
    private readonly IoWindow _io;
    private InterruptCauses? _causes;
    private bool _reportedLinkUp;

    /// <summary>How finely the system clock's timers can delay an interrupt (see <see cref="InterruptModeration"/>).</summary>
    private static readonly TimeSpan SystemTimerResolution = TimeSpan.FromMilliseconds(1);

    /// <summary>Creates an 82540EM with station address <see cref="NicSettings.Mac"/>, on the system clock.</summary>
    public E1000Device(NicSettings settings) : this(settings, TimeProvider.System) { }

    /// <summary>Creates an 82540EM whose moderation timers run on <paramref name="time"/> (tests pass a fake clock).</summary>
    public E1000Device(NicSettings settings, TimeProvider time) : this(settings, time, E1000Model.I82540EM) { }

    /// <summary>
    /// Creates the 8254x a personality descriptor declares (PCI function, EEPROM, PHY identifier,
    /// bus), on the system clock; <see cref="E1000Factory.CheckDescriptor"/> says what it must hold.
    /// </summary>
    /// <exception cref="ArgumentException">The descriptor is not one this behaviour serves; the message says why.</exception>
    public E1000Device(NicSettings settings, Polynic.Core.Modules.PersonalityDescriptor descriptor)
        : this(settings, TimeProvider.System, E1000Model.FromDescriptor(descriptor)) { }

    internal E1000Device(NicSettings settings, TimeProvider time, E1000Model model) : base(settings)
    {
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _model = model ?? throw new ArgumentNullException(nameof(model));
        Eeprom = new E1000Eeprom(model.EepromImage(settings.Mac), registerNvm: model.Is82574);
        Phy = new M88E1011Phy(model.PhyId, bmPaging: model.Is82574);
        Filter = new ReceiveFilter(ReceiveAddressCount, MulticastTableWords * 32, MulticastHashKind.Intel);
        Registers = new RegisterFile(RegisterBarSize);
        DeclareRegisters(Registers);
        if (model.Is82574) Declare82574Registers(Registers);
        Statistics = new Statistics(Registers);
        _io = new IoWindow(Registers);
        Faults = new FaultLog(time);
        Moderation = new InterruptModeration(time, Sync,
            timerResolution: ReferenceEquals(time, TimeProvider.System) ? SystemTimerResolution : TimeSpan.Zero);
        Transmitter = new TransmitPath(this);
        Receiver = new ReceivePath(this);
        ResetMac();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition => _model.Definition;

    internal RegisterFile Registers { get; }
    internal E1000Eeprom Eeprom { get; }
    internal M88E1011Phy Phy { get; }
    internal ReceiveFilter Filter { get; }
    internal Statistics Statistics { get; }
    internal InterruptModeration Moderation { get; }
    internal TransmitPath Transmitter { get; }
    internal ReceivePath Receiver { get; }
    internal FaultLog Faults { get; }
    internal InterruptCauses Causes => _causes ?? throw new InvalidOperationException("The NIC is not attached to a PCI function yet.");
    internal IGuestMemory Dma => Context.Dma;
    internal ILogger Log => Context.Log;

    /// <summary>Whether STATUS reports link: the PHY has link (or loops back), as BMSR and PSSR say.</summary>
    internal bool LinkUp => Phy.Mii.EffectiveLinkUp || Phy.Mii.Loopback;

    /// <summary>Transmitted frames go back into this MAC's receive path (PHY loopback BMCR bit 14, or RCTL.LBM), not to the wire.</summary>
    internal bool LoopbackActive => Phy.Mii.Loopback || (Registers.Get(Rctl) & RctlLbmMask) != 0;

    /// <inheritdoc/>
    protected override void OnAttached()
    {
        _causes = new InterruptCauses(Context.Interrupts);
        if (_model.Is82574)
        {
            VectorRouting = new MsixCauseRouting(Registers);
            _causes.VectorRouting = VectorRouting;
        }
        Moderation.Bind(_causes);
        Moderation.OnFailure = e => Context.ReportFailure("interrupt moderation timer", e);
    }

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        // Any other BAR (the 82574's flash window, the MSI-X BAR outside its table and PBA) reads 0.
        if (bar == 0) Registers.Read(offset, data);
        else if (bar == _model.IoBar) _io.Read(offset, data);
        else data.Clear();
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar == 0) Registers.Write(offset, data);
        else if (bar == _model.IoBar) _io.Write(offset, data);
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    /// <remarks>A PCI function-level or bus reset: the MAC as for CTRL.RST, and the PHY and I/O window too.</remarks>
    protected override void ResetDevice()
    {
        Phy.Mii.Reset();
        Phy.ResetPages();
        _io.Reset();
        ResetMac();
    }

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => Receiver.FromWire(frame);

    /// <inheritdoc/>
    protected override bool CanReceive(int frameLength) => Receiver.HasRoomFor(frameLength);

    /// <inheritdoc/>
    protected override void OnLinkChanged(bool up)
    {
        Phy.Mii.SetLink(up);
        UpdateLinkStatus();
    }

    /// <summary>
    /// CTRL.RST (8254x SDM 13.4.1): every MAC register to its power-on value, DMA stopped, the
    /// interrupt line lowered, RAL0/RAH0 loaded from the EEPROM with AV set. The PHY is kept.
    /// </summary>
    internal void ResetMac()
    {
        Registers.Reset();
        _causes?.Reset();
        Moderation.Reset();
        Transmitter.Reset();
        Receiver.Reset();
        Eeprom.Reset();
        Filter.Reset();
        var (low, high) = Eeprom.MacAddress.ToLowHigh();
        Registers.SetElement(Ral, 0, low);
        Registers.SetElement(Rah, 0, high | RahAddressValid);
        SyncReceiveAddress(0);
        SyncReceiveControl();
        Filter.VlanTpid = (ushort)Registers.Get(Vet);
        _reportedLinkUp = LinkUp;
    }

    /// <summary>Raises LSC if the link STATUS reports changed since it was last reported (port carrier, PHY power-down, loopback).</summary>
    internal void UpdateLinkStatus()
    {
        bool up = LinkUp;
        if (up == _reportedLinkUp) return;
        _reportedLinkUp = up;
        _causes?.Raise(IcrLsc);
    }

    /// <summary>
    /// STATUS as the driver reads it: link, speed and duplex from the PHY, or from CTRL when
    /// forced, and always the bus the model sits on (BUS64, PCI66).
    /// </summary>
    internal uint ComputeStatus() => ComputeLinkStatus() | _model.StatusBus;

    private uint ComputeLinkStatus()
    {
        if (!LinkUp) return 0;
        uint ctrl = Registers.Get(Ctrl);
        var mii = Phy.Mii;
        uint speed;
        if ((ctrl & CtrlFrcSpd) != 0)
        {
            speed = (ctrl & CtrlSpeedMask) switch
            {
                CtrlSpeed1000 or CtrlSpeedMask => StatusSpeed1000,
                CtrlSpeed100 => StatusSpeed100,
                _ => StatusSpeed10,
            };
        }
        else
        {
            speed = mii.Speed switch
            {
                LinkSpeed.Mbps100 => StatusSpeed100,
                LinkSpeed.Mbps10 => StatusSpeed10,
                _ => StatusSpeed1000,
            };
        }
        bool fullDuplex;
        if ((ctrl & CtrlFrcDpx) != 0) fullDuplex = (ctrl & CtrlFd) != 0;
        else if (mii.EffectiveLinkUp && mii.Speed != LinkSpeed.None) fullDuplex = mii.FullDuplex;
        else fullDuplex = true;   // looping back without a resolved link: the PHY's forced 1000/full
        return StatusLu | speed | StatusAsdv1000 | (fullDuplex ? StatusFd : 0);
    }

    /// <summary>Hands a packet the descriptors describe to the NIC core's egress.</summary>
    internal TransmitResult Send(Span<byte> frame, in FrameOffload offload) => Transmit(frame, offload);

    /// <inheritdoc/>
    protected override bool LoopingBack => LoopbackActive;

    /// <inheritdoc/>
    protected override void ReceiveLoopedBack(ReadOnlySpan<byte> frame) => Receiver.FromLoopback(frame);

    /// <inheritdoc/>
    /// <remarks>TCTL.PSP pads short packets to 64 bytes with the FCS (8254x SDM, Transmit Control Register).</remarks>
    protected override int MinimumTransmitLength => (Registers.Get(Tctl) & TctlPsp) != 0 ? TransmitPath.MinFrame : 0;

    /// <inheritdoc/>
    protected override void OnTransmitted(ReadOnlySpan<byte> frame, int length) =>
        Statistics.CountTransmitted(frame, length + Statistics.FcsLength);
}
