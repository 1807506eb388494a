using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Ports.Loopback;
using Polynic.TestMachine;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>
/// One 82540EM in an in-process machine, cabled to a <see cref="PortPair"/> whose far end
/// records what goes on the wire, plus the guest-driver steps the tests need (ring setup,
/// transmit, receive), written the way Linux e1000 does them.
/// </summary>
public sealed class E1000Rig : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_12_34_56);

    public const ulong TxRing = 0x1_0000;
    public const ulong RxRing = 0x2_0000;
    public const ulong TxBuffers = 0x80_0000;
    public const ulong RxBuffers = 0x40_0000;
    public const int RxBufferStride = 16 * 1024;

    public E1000Rig(PortCapabilities wireCapabilities = PortCapabilities.None, Machine? machine = null, ManualTime? time = null, bool attachPort = true,
        bool systemClock = false, LoopbackDelivery delivery = LoopbackDelivery.Inline, E1000Device? nic = null, bool i82574 = false)
    {
        Time = time ?? new ManualTime();
        Machine = machine ?? new Machine(ramSize: 16 << 20);
        Nic = nic ?? (i82574
            ? E1000Device.Create82574L(new NicSettings(Mac), systemClock ? TimeProvider.System : Time)
            : systemClock ? new E1000Device(new NicSettings(Mac)) : new E1000Device(new NicSettings(Mac), Time));
        Slot = Machine.Plug(Nic, $"e1000-{Machine.GetHashCode():x}-{Guid.NewGuid():N}");
        var bars = Machine.Enumerate(Slot);
        Mmio = bars[0];
        Bars = bars;
        Io = bars[Nic.Is82574 ? 2 : 1];   // the 82574's BAR 1 is its flash window
        Pair = new PortPair(new PortPairOptions { CapabilitiesA = wireCapabilities, Delivery = delivery, QueueCapacity = 4096 });
        Pair.B.Start(Wire);
        if (attachPort) Nic.AttachPort(Pair.A);
    }

    public ManualTime Time { get; }
    public Machine Machine { get; }
    public E1000Device Nic { get; }
    public int Slot { get; }
    public ulong Mmio { get; }
    public ulong Io { get; }
    public ulong[] Bars { get; }
    public PortPair Pair { get; }
    public WireRecorder Wire { get; } = new();
    public int TxCount { get; private set; }
    public int RxCount { get; private set; }
    public uint TxTail { get; private set; }
    public uint RxNext { get; private set; }

    public InterruptLog Interrupts => Machine.Interrupts(Slot);
    public bool IntxAsserted => Machine.Function(Slot).Interrupts.IntxPinAsserted;

    // BAR0 accesses go straight to the function: the machine's bus decode (PciFunction.TryDecode) boxes an
    // enumerator per access, which would hide the device's own allocations. The I/O window goes through the bus.
    public uint Read(uint register)
    {
        Span<byte> b = stackalloc byte[4];
        if (!Machine.Function(Slot).ReadBar(0, register, b)) return uint.MaxValue;
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void Write(uint register, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Machine.Function(Slot).WriteBar(0, register, b);
    }

    public uint MmioRead(uint register) => Machine.MmioRead(Mmio + register);
    public uint IoRead(uint port) => Machine.IoRead(Io + port);
    public void IoWrite(uint port, uint value) => Machine.IoWrite(Io + port, value);
    public Span<byte> Ram(ulong address, int length) => Machine.Ram.Span(address, length);

    /// <summary>Enables MSI-X in config space and unmasks every vector of the table (the 82574's, in BAR 3).</summary>
    public void EnableMsix()
    {
        var msix = Nic.Definition.Msix ?? throw new InvalidOperationException("no MSI-X capability");
        uint at = Machine.ConfigRead(Slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (Machine.ConfigRead(Slot, (int)at, 1) == 0x11)
            {
                Machine.ConfigWrite(Slot, (int)at + 2, 0x8000, 2);
                Span<byte> zero = stackalloc byte[4];
                zero.Clear();
                for (int v = 0; v < msix.Vectors; v++) Machine.Function(Slot).WriteBar(msix.TableBar, msix.TableOffset + (ulong)v * 16 + 12, zero);
                return;
            }
            at = Machine.ConfigRead(Slot, (int)at + 1, 1);
        }
        throw new InvalidOperationException("no MSI-X capability in config space");
    }

    /// <summary>Sends a frame into the NIC from the wire.</summary>
    public bool Inject(ReadOnlySpan<byte> frame) => Pair.B.Send(frame);

    /// <summary>e1000_reset_hw for 82540: masks, RCTL/TCTL off, CTRL.RST through the I/O window, ICR cleared.</summary>
    public void LinuxResetHw()
    {
        Write(Imc, 0xFFFF_FFFF);
        Write(Rctl, 0);
        Write(Tctl, 0x8);
        Read(Status);
        uint ctrl = Read(Ctrl);
        IoWrite(0, Ctrl);
        IoWrite(4, ctrl | E1000Bits.CtrlRst);
        Write(Manc, Read(Manc) & ~(1u << 13));
        Write(Imc, 0xFFFF_FFFF);
        Read(Icr);
    }

    /// <summary>A transmit ring of <paramref name="count"/> descriptors, head = tail = 0, TCTL.EN|PSP.</summary>
    public void SetupTx(int count = 256, uint tctl = 0x0003_F0FA)
    {
        if (count % 8 != 0) throw new ArgumentException("TDLEN is a multiple of 128 bytes: 8 descriptors.");
        TxCount = count;
        TxTail = 0;
        Ram(TxRing, count * 16).Clear();
        Write(Tdbal, (uint)TxRing);
        Write(Tdbah, 0);
        Write(Tdlen, (uint)count * 16);
        Write(Tdh, 0);
        Write(Tdt, 0);
        Write(Tctl, tctl);
    }

    /// <summary>A receive ring of <paramref name="count"/> descriptors with buffers, all but one handed to the NIC, RCTL as given.</summary>
    public void SetupRx(int count = 256, uint rctl = E1000Bits.RctlEn | E1000Bits.RctlBam)
    {
        if (count % 8 != 0) throw new ArgumentException("RDLEN is a multiple of 128 bytes: 8 descriptors.");
        RxCount = count;
        RxNext = 0;
        Write(Rctl, rctl & ~E1000Bits.RctlEn);
        Ram(RxRing, count * 16).Clear();
        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(Ram(RxRing + (ulong)i * 16, 8), RxBuffers + (ulong)i * RxBufferStride);
        Write(Rdbal, (uint)RxRing);
        Write(Rdbah, 0);
        Write(Rdlen, (uint)count * 16);
        Write(Rdh, 0);
        Write(Rdt, (uint)count - 1);
        Write(Rctl, rctl);
    }

    /// <summary>Puts <paramref name="frame"/> in one legacy descriptor (EOP|IFCS|RS + <paramref name="extraCmd"/>) and bumps TDT.</summary>
    public uint TransmitLegacy(ReadOnlySpan<byte> frame, uint extraCmd = 0, ushort special = 0, byte cso = 0, byte css = 0)
    {
        uint index = TxTail;
        ulong buffer = TxBuffers + index * 0x1_0000UL % (4UL << 20);
        frame.CopyTo(Ram(buffer, frame.Length));
        uint lower = (uint)frame.Length | (uint)cso << 16 | TransmitDescriptor.CmdEop | TransmitDescriptor.CmdIfcs | TransmitDescriptor.CmdRs | extraCmd;
        uint upper = (uint)css << 8 | (uint)special << 16;
        WriteTxDescriptor(index, buffer, lower, upper);
        Advance();
        Write(Tdt, TxTail);
        return index;
    }

    public void WriteTxDescriptor(uint index, ulong address, uint lower, uint upper)
    {
        var d = Ram(TxRing + index * 16UL, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], lower);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], upper);
    }

    /// <summary>Writes descriptors without bumping TDT (a packet of several descriptors); returns the index used.</summary>
    public uint QueueTx(ulong address, uint lower, uint upper)
    {
        uint index = TxTail;
        WriteTxDescriptor(index, address, lower, upper);
        Advance();
        return index;
    }

    public void Doorbell() => Write(Tdt, TxTail);

    private void Advance() => TxTail = (uint)((TxTail + 1) % TxCount);

    public bool TxDone(uint index) => (Ram(TxRing + index * 16UL + 12, 1)[0] & 1) != 0;

    /// <summary>The next receive descriptor's write-back, if DD is set: (length, status, errors, special, data).</summary>
    public bool TryReceive(out RxDescriptor descriptor)
    {
        var d = Ram(RxRing + RxNext * 16UL, 16);
        descriptor = new RxDescriptor(
            BinaryPrimitives.ReadUInt64LittleEndian(d), BinaryPrimitives.ReadUInt16LittleEndian(d[8..]),
            d[12], d[13], BinaryPrimitives.ReadUInt16LittleEndian(d[14..]));
        if ((descriptor.Status & 1) == 0) return false;
        descriptor = descriptor with { Data = Ram(descriptor.Address, descriptor.Length).ToArray() };
        // Give the descriptor back, as the driver does: clear status, move RDT.
        d[12] = 0;
        Write(Rdt, RxNext);
        RxNext = (uint)((RxNext + 1) % RxCount);
        return true;
    }

    /// <summary>Receives one frame, gathering descriptors until EOP; null if none is complete.</summary>
    public byte[]? ReceiveFrame(out RxDescriptor last)
    {
        var all = new List<byte>();
        last = default;
        while (TryReceive(out var d))
        {
            all.AddRange(d.Data);
            last = d;
            if ((d.Status & 2) != 0) return all.ToArray();
        }
        return all.Count == 0 ? null : throw new InvalidOperationException("frame without EOP");
    }

    public void Dispose() => Pair.Dispose();
}

public readonly record struct RxDescriptor(ulong Address, ushort Length, byte Status, byte Errors, ushort Special)
{
    public byte[] Data { get; init; } = [];
}

/// <summary>The far end of the cable: keeps copies of the frames the NIC sent.</summary>
public sealed class WireRecorder : IPortReceiver
{
    private readonly List<byte[]> _frames = [];
    public bool Record { get; set; } = true;
    public long Count;

    public IReadOnlyList<byte[]> Frames { get { lock (_frames) return _frames.ToArray(); } }

    public void Receive(ReadOnlySpan<byte> frame)
    {
        Count++;
        if (!Record) return;
        lock (_frames) _frames.Add(frame.ToArray());
    }

    public void LinkChanged(bool up) { }

    public void Clear() { lock (_frames) _frames.Clear(); }
}
