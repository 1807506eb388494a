using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Igb;
using Polynic.Ports.Loopback;
using Polynic.TestMachine;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>
/// One 82576 in an in-process machine, cabled to a <see cref="PortPair"/> whose far end records what
/// goes on the wire, plus the driver steps the tests need, written the way Linux igb does them
/// (igb_configure_rx_ring / igb_configure_tx_ring, advanced descriptors).
/// </summary>
public sealed class IgbRig : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_12_34_57);

    public const ulong TxRing = 0x1_0000;
    public const ulong RxRing = 0x2_0000;      // queue q's ring at RxRing + q * 0x1000
    public const ulong TxBuffers = 0x80_0000;
    public const ulong RxBuffers = 0x40_0000;  // 2 KiB buffers, queue q's at RxBuffers + q * 0x4_0000
    public const int RxBufferSize = 2048;

    public IgbRig(PortCapabilities wireCapabilities = PortCapabilities.None)
    {
        Machine = new Machine(ramSize: 16 << 20);
        Nic = new IgbDevice(new NicSettings(Mac), new ManualTime());
        Slot = Machine.Plug(Nic, $"igb-{Guid.NewGuid():N}");
        Bars = Machine.Enumerate(Slot);
        Pair = new PortPair(new PortPairOptions { CapabilitiesA = wireCapabilities, Delivery = LoopbackDelivery.Inline, QueueCapacity = 4096 });
        Pair.B.Start(Wire);
        Nic.AttachPort(Pair.A);
    }

    public Machine Machine { get; }
    public IgbDevice Nic { get; }
    public int Slot { get; }
    public ulong[] Bars { get; }
    public PortPair Pair { get; }
    public WireRecorder Wire { get; } = new();
    public InterruptLog Interrupts => Machine.Interrupts(Slot);
    public bool IntxAsserted => Machine.Function(Slot).Interrupts.IntxPinAsserted;

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

    public Span<byte> Ram(ulong address, int length) => Machine.Ram.Span(address, length);

    public bool Inject(ReadOnlySpan<byte> frame) => Pair.B.Send(frame);

    /// <summary>Enables MSI-X in config space and unmasks every vector (BAR 3 table).</summary>
    public void EnableMsix()
    {
        var msix = Nic.Definition.Msix!;
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

    /// <summary>igb_configure_rx_ring for queue <paramref name="q"/>: advanced one-buffer descriptors, 2 KiB buffers, all but one handed over.</summary>
    public void SetupRx(int q = 0, int count = 64, uint rctl = E1000Bits.RctlEn | E1000Bits.RctlBam | E1000Bits.RctlSecrc)
    {
        ulong ring = RxRing + (ulong)q * 0x1000;
        Write(RxQueue(q, QDctl), 0);
        Ram(ring, count * 16).Clear();
        for (int i = 0; i < count; i++) PostRx(q, i);
        Write(RxQueue(q, QBal), (uint)ring);
        Write(RxQueue(q, QBah), 0);
        Write(RxQueue(q, QLen), (uint)count * 16);
        Write(RxQueue(q, QSrrctl), (256u >> 6) << 8 | (uint)(RxBufferSize >> 10) | IgbBits.SrrctlDescTypeAdvancedOneBuffer);
        Write(RxQueue(q, QHead), 0);
        Write(RxQueue(q, QTail), (uint)count - 1);
        Write(RxQueue(q, QDctl), IgbBits.QueueEnable | 8 | 8 << 8 | 4 << 16);
        Write(Rctl, rctl);
    }

    /// <summary>Writes the read format of receive descriptor <paramref name="index"/> of queue <paramref name="q"/>.</summary>
    public void PostRx(int q, int index)
    {
        var d = Ram(RxRing + (ulong)q * 0x1000 + (ulong)index * 16, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, RxBuffer(q, index));
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0);
    }

    public static ulong RxBuffer(int q, int index) => RxBuffers + (ulong)q * 0x4_0000 + (ulong)index * RxBufferSize;

    /// <summary>The write-back of receive descriptor <paramref name="index"/> of queue <paramref name="q"/>.</summary>
    public (uint RssType, uint Hash, uint StatusError, ushort Length, ushort Vlan) RxWriteBack(int q, int index)
    {
        var d = Ram(RxRing + (ulong)q * 0x1000 + (ulong)index * 16, 16);
        return (BinaryPrimitives.ReadUInt32LittleEndian(d), BinaryPrimitives.ReadUInt32LittleEndian(d[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(d[8..]), BinaryPrimitives.ReadUInt16LittleEndian(d[12..]),
            BinaryPrimitives.ReadUInt16LittleEndian(d[14..]));
    }

    /// <summary>igb_configure_tx_ring for queue <paramref name="q"/> and igb_setup_tctl.</summary>
    public void SetupTx(int q = 0, int count = 64)
    {
        Write(TxQueue(q, QDctl), 0);
        Ram(TxRing, count * 16).Clear();
        Write(TxQueue(q, QBal), (uint)TxRing);
        Write(TxQueue(q, QBah), 0);
        Write(TxQueue(q, QLen), (uint)count * 16);
        Write(TxQueue(q, QHead), 0);
        Write(TxQueue(q, QTail), 0);
        Write(TxQueue(q, QDctl), IgbBits.QueueEnable | 8 | 1 << 8 | 16 << 16);
        Write(Tctl, E1000Bits.TctlEn | E1000Bits.TctlPsp | 0xFu << 4);
        TxCount = count;
        TxTail = 0;
    }

    public int TxCount { get; private set; }
    public uint TxTail { get; private set; }

    /// <summary>Writes a descriptor at the tail without ringing the doorbell; returns its index.</summary>
    public uint QueueTx(ulong address, uint cmdTypeLength, uint olinfo)
    {
        uint index = TxTail;
        var d = Ram(TxRing + index * 16UL, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], cmdTypeLength);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], olinfo);
        TxTail = (uint)((TxTail + 1) % TxCount);
        return index;
    }

    /// <summary>An advanced data descriptor (DTYP 3, DEXT, IFCS, EOP, RS) with <paramref name="frame"/>; rings TDT of queue 0.</summary>
    public uint TransmitAdvanced(ReadOnlySpan<byte> frame, uint extraCmd = 0, uint olinfo = 0)
    {
        ulong buffer = TxBuffers + TxTail * 0x1_0000UL % (4UL << 20);
        frame.CopyTo(Ram(buffer, frame.Length));
        uint index = QueueTx(buffer, (uint)frame.Length | 3u << 20 | (1u << 29) | (1u << 24) | (1u << 25) | (1u << 27) | extraCmd,
            olinfo | (uint)frame.Length << 14);
        Write(TxQueue(0, QTail), TxTail);
        return index;
    }

    public bool TxDone(uint index) => (Ram(TxRing + index * 16UL + 12, 1)[0] & 1) != 0;

    public ushort ReadNvm(int word)
    {
        Write(Eerd, (uint)word << 2 | 1);
        uint v = Read(Eerd);
        if ((v & 2) == 0) throw new InvalidOperationException("EERD not done");
        return (ushort)(v >> 16);
    }

    public ushort ReadPhy(int register)
    {
        Write(Mdic, (uint)register << 16 | 1u << 21 | 2u << 26);
        return (ushort)Read(Mdic);
    }

    public void WritePhy(int register, ushort value) => Write(Mdic, value | (uint)register << 16 | 1u << 21 | 1u << 26);

    public void Dispose() => Pair.Dispose();
}
