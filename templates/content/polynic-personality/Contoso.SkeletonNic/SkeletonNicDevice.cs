using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;
using static Contoso.SkeletonNic.SkeletonNicRegisters;

namespace Contoso.SkeletonNic;

/// <summary>
/// The SkeletonNic: a network controller with one memory BAR (<see cref="SkeletonNicRegisters"/>),
/// a one-frame transmit buffer and a one-frame receive buffer that the driver fills and empties
/// with programmed I/O, a cause/mask interrupt on INTA#, and the station address in two
/// registers. It is the smallest complete personality: grow it into real hardware by replacing
/// the register map and the buffers with the datasheet's descriptor rings
/// (<see cref="Polynic.Core.Nic.Dma.DescriptorRing"/> and <c>Context.Dma</c> reach guest memory).
/// </summary>
/// <remarks>
/// <para>
/// The PCI core (<see cref="PciFunction"/>) serves configuration space, BAR sizing and the
/// interrupt mode; this class sees only accesses to its own BAR. <see cref="NicDevice"/> calls
/// every overridden member with its lock held, so the state here needs no further locking.
/// </para>
/// <para>
/// Every value comes from an untrusted guest: lengths are checked against the buffers, unknown
/// offsets read as zero, and nothing throws for any guest input.
/// </para>
/// </remarks>
public sealed class SkeletonNicDevice : NicDevice
{
    /// <summary>PCI vendor ID.</summary>
    public const ushort VendorId = 0x1234;

    /// <summary>PCI device ID.</summary>
    public const ushort DeviceId = 0x7a10;

    /// <summary>PCI revision ID unless the configuration's <c>revision</c> option says otherwise.</summary>
    public const byte DefaultRevision = 1;

    /// <summary>PCI class code: network controller, Ethernet (PCI Code and ID Assignment, 02h/00h).</summary>
    public const uint EthernetClass = 0x02_00_00;

    /// <summary>Shortest frame the transmitter sends: an Ethernet header.</summary>
    public const int MinFrame = 14;

    /// <summary>Longest frame either direction carries (1500-byte payload, header, one VLAN tag; no FCS).</summary>
    public const int MaxFrame = 1518;

    private readonly RegisterFile _registers = new(RegisterSpace);
    private readonly byte[] _txBuffer = new byte[BufferSize];
    private readonly byte[] _rxBuffer = new byte[BufferSize];
    private readonly ReceiveFilter _filter = new(exactEntries: 1, hashBits: 0, MulticastHashKind.None);
    private InterruptCauses? _causes;
    private int _rxLength;

    /// <summary>Creates the device with the station address from <paramref name="settings"/>.</summary>
    /// <param name="settings">The station address.</param>
    /// <param name="revision">The PCI revision ID.</param>
    public SkeletonNicDevice(NicSettings settings, byte revision = DefaultRevision) : base(settings)
    {
        Definition = new PciFunctionDefinition
        {
            Identity = new PciIdentity(VendorId, DeviceId, EthernetClass, revision,
                SubsystemVendorId: VendorId, SubsystemId: DeviceId, InterruptPin: 1),
            Bars = [new BarDefinition(0, BarKind.Memory32, BarSize)],
        };
        DeclareRegisters();
        PowerOnReset();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition { get; }

    /// <inheritdoc/>
    protected override void OnAttached() => _causes = new InterruptCauses(Context.Interrupts);

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        if (bar != 0) return;
        if (offset < RegisterSpace) _registers.Read(offset, data);
        else if (Window(offset, data.Length, RxBuffer) is int at) _rxBuffer.AsSpan(at, data.Length).CopyTo(data);
        // Everything else (the write-only transmit buffer, straddling accesses) reads as zero.
    }

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar != 0) return;
        if (offset < RegisterSpace) _registers.Write(offset, data);
        else if (Window(offset, data.Length, TxBuffer) is int at) data.CopyTo(_txBuffer.AsSpan(at));
    }

    /// <inheritdoc/>
    protected override void ResetDevice() => ResetAndWakeReceiver();

    /// <inheritdoc/>
    protected override bool CanReceive(int frameLength) =>
        // Hold the port back while the guest still owns the buffer; a frame that would be
        // dropped anyway (receiver off) need not wait.
        _rxLength == 0 || (_registers.Get(Control) & ControlReceiverOn) == 0;

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        if ((_registers.Get(Control) & ControlReceiverOn) == 0) { Counters.RxDisabled++; return; }
        if (frame.Length > MaxFrame) { Counters.RxTooLong++; return; }
        var verdict = _filter.Accept(frame);
        if (!verdict.IsAccepted()) { Counters.CountRejected(verdict); return; }
        if (_rxLength != 0) { Counters.RxNoBuffer++; return; }
        frame.CopyTo(_rxBuffer);
        _rxLength = frame.Length;
        Counters.CountDelivered(frame);
        _causes?.Raise(CauseReceived);
    }

    /// <inheritdoc/>
    protected override void OnLinkChanged(bool up) => _causes?.Raise(CauseLinkChanged);

    private void DeclareRegisters()
    {
        var r = _registers;
        r.Declare(Id, "ID", resetValue: IdValue, access: RegisterAccess.ReadOnly);
        r.Declare(Control, "CONTROL", writeMask: ControlReceiverOn | ControlPromiscuous | ControlReset, onWrite: OnControlWrite);
        r.Declare(Status, "STATUS", access: RegisterAccess.ReadOnly,
            onRead: (_, in _) => (PortLinkUp ? StatusLinkUp : 0) | (_rxLength != 0 ? StatusReceiveFull : 0));
        // Cause and mask live in InterruptCauses, which drives the line; the registers are views of it.
        r.Declare(InterruptCause, "INT_CAUSE", writeMask: 0,
            onRead: (_, in _) => _causes?.Cause ?? 0,
            onWrite: (_, in w) => _causes?.Acknowledge(w.Written & AllCauses));
        r.Declare(InterruptMask, "INT_MASK", writeMask: AllCauses, onWrite: (_, in w) => _causes?.SetMask(w.NewValue));
        r.Declare(TxLength, "TX_LENGTH", writeMask: 0xFFFF, onWrite: (_, in w) => TransmitBuffer((int)w.NewValue));
        r.Declare(RxLength, "RX_LENGTH", writeMask: 0, onRead: (_, in _) => (uint)_rxLength, onWrite: (_, in _) => ReleaseReceiveBuffer());
        r.Declare(MacLow, "MAC_LOW", access: RegisterAccess.ReadOnly);
        r.Declare(MacHigh, "MAC_HIGH", access: RegisterAccess.ReadOnly);
        r.Declare(Scratch, "SCRATCH");
    }

    private void OnControlWrite(RegisterFile file, in RegisterWrite write)
    {
        if ((write.NewValue & ControlReset) != 0)
        {
            ResetAndWakeReceiver();
            return;
        }
        _filter.PromiscuousUnicast = (write.NewValue & ControlPromiscuous) != 0;
    }

    private void TransmitBuffer(int length)
    {
        if (length < MinFrame || length > Math.Min(MaxFrame, BufferSize))
        {
            Counters.TxErrors++;
            _causes?.Raise(CauseTransmitError);
            return;
        }
        // Transmit counts the frame, or counts it dropped when there is no port or no carrier.
        _causes?.Raise(Transmit(_txBuffer.AsSpan(0, length)) ? CauseTransmitted : CauseTransmitError);
    }

    private void ReleaseReceiveBuffer()
    {
        _rxLength = 0;
        ReceiveRoomAvailable();
    }

    private void ResetAndWakeReceiver()
    {
        PowerOnReset();
        // A port thread may be waiting in CanReceive for the buffer the reset just emptied.
        ReceiveRoomAvailable();
    }

    private void PowerOnReset()
    {
        _registers.Reset();
        var (low, high) = Settings.Mac.ToLowHigh();
        _registers.Set(MacLow, low);
        _registers.Set(MacHigh, high);
        _filter.Reset();
        _filter.SetExact(0, Settings.Mac, valid: true);
        _filter.AcceptBroadcast = true;
        _rxLength = 0;
        Array.Clear(_txBuffer);
        Array.Clear(_rxBuffer);
        _causes?.Reset();
    }

    /// <summary>The offset of an access inside the buffer at <paramref name="start"/>, or null if it is not wholly inside.</summary>
    private static int? Window(ulong offset, int length, uint start) =>
        offset >= start && offset - start <= (ulong)(BufferSize - length) ? (int)(offset - start) : null;
}
