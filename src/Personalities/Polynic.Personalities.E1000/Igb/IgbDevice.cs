using Microsoft.Extensions.Logging;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Nic.Phy;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// Intel 82576 Gigabit Ethernet Controller, physical function (8086:10C9), the NIC QEMU calls "igb",
/// driven by the stock Linux igb driver (docs/igb-status.md lists what it expects).
/// </summary>
/// <remarks>
/// <para>
/// Shared with the 8254x personalities: the NVM behind EERD (<see cref="E1000Eeprom"/>), statistics
/// (<see cref="Statistics"/>), receive checksum checks, the core's receive filter and egress. Its own:
/// the IGP3 PHY (<see cref="Igp3Phy"/>), 16 receive and 16 transmit queues with advanced descriptors
/// (<see cref="IgbReceivePath"/>, <see cref="IgbTransmitPath"/>), RSS (<see cref="IgbRss"/>) and
/// the ICR/EICR interrupt model with IVAR routing to 10 MSI-X vectors (<see cref="IgbInterrupts"/>).
/// </para>
/// <para>
/// BAR 0: 128 KiB of registers. BAR 1: the flash window (reads 0). BAR 2: the I/O window. BAR 3: the
/// MSI-X table and PBA. SR-IOV is not offered: QEMU's vfio-user client hides that capability.
/// Interrupt moderation (EITR) is stored, not timed. Everything runs under the <see cref="NicDevice"/> lock.
/// </para>
/// </remarks>
public sealed partial class IgbDevice : NicDevice
{
    /// <summary>Size of the register BAR.</summary>
    public const int RegisterBarSize = 128 * 1024;

    /// <summary>PCI identity of the 82576 as QEMU's igb presents it.</summary>
    public static readonly PciIdentity Identity = new(
        VendorId: 0x8086, DeviceId: 0x10C9, ClassCode: 0x020000, Revision: 0x01,
        SubsystemVendorId: 0x8086, SubsystemId: 0x0000, InterruptPin: 1);

    /// <summary>BARs and capabilities (QEMU hw/net/igb.c layout; MSI-X table at 0, PBA at 0x2000 of BAR 3).</summary>
    public static PciFunctionDefinition FunctionDefinition { get; } = new()
    {
        Identity = Identity,
        Bars =
        [
            new BarDefinition(0, BarKind.Memory32, RegisterBarSize),
            new BarDefinition(1, BarKind.Memory32, RegisterBarSize),
            new BarDefinition(2, BarKind.Io, 32),
            new BarDefinition(3, BarKind.Memory32, 16 * 1024),
        ],
        Msi = new MsiCapability(Vectors: 1, Is64Bit: true),
        Msix = new MsixCapability(MsixVectors, TableBar: 3, TableOffset: 0, PbaBar: 3, PbaOffset: 0x2000),
        PowerManagement = new PowerManagementCapability(),
    };

    private const int IoBar = 2;
    private readonly IoWindow _io;
    private IgbInterrupts? _interrupts;
    private bool _reportedLinkUp;

    /// <summary>Creates an 82576 with station address <see cref="NicSettings.Mac"/>, on the system clock.</summary>
    public IgbDevice(NicSettings settings) : this(settings, TimeProvider.System) { }

    /// <summary>Creates an 82576 whose fault log runs on <paramref name="time"/> (tests).</summary>
    public IgbDevice(NicSettings settings, TimeProvider time) : base(settings)
    {
        Eeprom = new E1000Eeprom(IgbNvm.Image(settings.Mac), registerNvm: true);
        Phy = new Igp3Phy();
        Filter = new ReceiveFilter(IgbReceiveAddressCount, E1000Registers.MulticastTableWords * 32, MulticastHashKind.Intel);
        Registers = new RegisterFile(RegisterBarSize);
        DeclareRegisters(Registers);
        Statistics = new Statistics(Registers);
        Rss = new IgbRss(Registers);
        _io = new IoWindow(Registers);
        Faults = new FaultLog(time);
        Transmitter = new IgbTransmitPath(this);
        Receiver = new IgbReceivePath(this);
        ResetMac();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition => FunctionDefinition;

    internal RegisterFile Registers { get; }
    internal E1000Eeprom Eeprom { get; }
    internal Igp3Phy Phy { get; }
    internal ReceiveFilter Filter { get; }
    internal Statistics Statistics { get; }
    internal IgbRss Rss { get; }
    internal IgbTransmitPath Transmitter { get; }
    internal IgbReceivePath Receiver { get; }
    internal FaultLog Faults { get; }
    internal IgbInterrupts Interrupts => _interrupts ?? throw new InvalidOperationException("The NIC is not attached to a PCI function yet.");
    internal IGuestMemory Dma => Context.Dma;
    internal ILogger Log => Context.Log;

    /// <summary>Whether STATUS reports link: the PHY has link (or loops back).</summary>
    internal bool LinkUp => Phy.Mii.EffectiveLinkUp || Phy.Mii.Loopback;

    /// <summary>Transmitted frames go back into this MAC's receive path (PHY loopback BMCR bit 14, or RCTL.LBM), not to the wire.</summary>
    internal bool LoopbackActive => Phy.Mii.Loopback || (Registers.Get(Rctl) & RctlLbmMask) != 0;

    /// <inheritdoc/>
    protected override void OnAttached() => _interrupts = new IgbInterrupts(Registers, Context.Interrupts);

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        if (bar == 0) Registers.Read(IgbRegisters.Canonical(offset), data);
        else if (bar == IoBar) _io.Read(offset, data);
        else data.Clear();
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar == 0) Registers.Write(IgbRegisters.Canonical(offset), data);
        else if (bar == IoBar) _io.Write(offset, data);
        Counters.UnknownRegisterAccesses = Registers.UnknownReads + Registers.UnknownWrites;
    }

    /// <inheritdoc/>
    /// <remarks>A PCI function-level or bus reset: the MAC as for CTRL.RST, and the PHY and I/O window too.</remarks>
    protected override void ResetDevice()
    {
        Phy.Reset();
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
    /// CTRL.RST (datasheet 4.3.1 software reset): every MAC register to its power-on value, DMA
    /// stopped, interrupts cleared, RAL0/RAH0 loaded from the NVM with AV set. The PHY is kept.
    /// </summary>
    internal void ResetMac()
    {
        Registers.Reset();
        _interrupts?.Reset();
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

    /// <summary>Raises LSC if the link STATUS reports changed since it was last reported.</summary>
    internal void UpdateLinkStatus()
    {
        bool up = LinkUp;
        if (up == _reportedLinkUp) return;
        _reportedLinkUp = up;
        _interrupts?.Causes.Raise(IcrLsc);
    }

    /// <summary>STATUS: link, speed and duplex from the PHY, or from CTRL when forced; LAN function 0.</summary>
    internal uint ComputeStatus()
    {
        if (!LinkUp) return 0;
        uint ctrl = Registers.Get(Ctrl);
        var mii = Phy.Mii;
        uint speed;
        if ((ctrl & CtrlFrcSpd) != 0)
            speed = (ctrl & CtrlSpeedMask) switch { CtrlSpeed100 => StatusSpeed100, 0 => StatusSpeed10, _ => StatusSpeed1000 };
        else
            speed = mii.Speed switch { LinkSpeed.Mbps100 => StatusSpeed100, LinkSpeed.Mbps10 => StatusSpeed10, _ => StatusSpeed1000 };
        bool fullDuplex;
        if ((ctrl & CtrlFrcDpx) != 0) fullDuplex = (ctrl & CtrlFd) != 0;
        else if (mii.EffectiveLinkUp && mii.Speed != LinkSpeed.None) fullDuplex = mii.FullDuplex;
        else fullDuplex = true;   // looping back without a resolved link: forced 1000/full
        return StatusLu | speed | (fullDuplex ? StatusFd : 0);
    }

    /// <summary>Hands a packet the descriptors describe to the NIC core's egress.</summary>
    internal TransmitResult Send(Span<byte> frame, in FrameOffload offload) => Transmit(frame, offload);

    /// <inheritdoc/>
    protected override bool LoopingBack => LoopbackActive;

    /// <inheritdoc/>
    protected override void ReceiveLoopedBack(ReadOnlySpan<byte> frame) => Receiver.FromLoopback(frame);

    /// <inheritdoc/>
    /// <remarks>TCTL.PSP pads short packets to 64 bytes with the FCS.</remarks>
    protected override int MinimumTransmitLength => (Registers.Get(Tctl) & TctlPsp) != 0 ? IgbTransmitPath.MinFrame : 0;

    /// <inheritdoc/>
    protected override void OnTransmitted(ReadOnlySpan<byte> frame, int length) =>
        Statistics.CountTransmitted(frame, length + Statistics.FcsLength);
}
