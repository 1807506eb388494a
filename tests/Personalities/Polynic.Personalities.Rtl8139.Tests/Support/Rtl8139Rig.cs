using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Ports.Loopback;
using Polynic.TestMachine;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests.Support;

/// <summary>
/// One RTL8139 in an in-process machine, cabled to a <see cref="PortPair"/> whose far end records
/// the wire, with the driver steps of Linux 8139too (C mode) and 8139cp (C+ mode) the tests need.
/// Registers are reached through BAR1 (memory) unless a test uses <see cref="IoRead"/>.
/// </summary>
public sealed class Rtl8139Rig : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_81_39_01);
    public static readonly MacAddress Peer = MacAddress.FromUInt64(0x02_00_00_00_00_02);

    public const ulong RxRing = 0x10_0000;      // C mode ring buffer / C+ receive descriptors
    public const ulong TxRing = 0x20_0000;      // C+ transmit descriptors
    public const ulong TxBuffers = 0x30_0000;
    public const ulong RxBuffers = 0x40_0000;
    public const int RxBufferSize = 1536;

    public Rtl8139Rig(byte revision = 0x10, PortCapabilities wireCapabilities = PortCapabilities.None, bool attachPort = true)
    {
        Machine = new Machine(ramSize: 16 << 20);
        Nic = new Rtl8139Device(new NicSettings(Mac), revision);
        Slot = Machine.Plug(Nic, $"rtl8139-{Guid.NewGuid():N}");
        var bars = Machine.Enumerate(Slot);
        Io = bars[0];
        Mmio = bars[1];
        Pair = new PortPair(new PortPairOptions { CapabilitiesA = wireCapabilities, QueueCapacity = 4096 });
        Pair.B.Start(Wire);
        if (attachPort) Nic.AttachPort(Pair.A);
    }

    public Machine Machine { get; }
    public Rtl8139Device Nic { get; }
    public int Slot { get; }
    public ulong Io { get; }
    public ulong Mmio { get; }
    public PortPair Pair { get; }
    public WireRecorder Wire { get; } = new();
    public bool IntxAsserted => Machine.Function(Slot).Interrupts.IntxPinAsserted;

    public uint R32(uint reg) => Machine.MmioRead(Mmio + reg, 4);
    public ushort R16(uint reg) => (ushort)Machine.MmioRead(Mmio + reg, 2);
    public byte R8(uint reg) => (byte)Machine.MmioRead(Mmio + reg, 1);
    public void W32(uint reg, uint v) => Machine.MmioWrite(Mmio + reg, v, 4);
    public void W16(uint reg, ushort v) => Machine.MmioWrite(Mmio + reg, v, 2);
    public void W8(uint reg, byte v) => Machine.MmioWrite(Mmio + reg, v, 1);
    public uint IoRead(uint reg, int width) => Machine.IoRead(Io + reg, width);
    public Span<byte> Ram(ulong address, int length) => Machine.Ram.Span(address, length);
    public bool Inject(ReadOnlySpan<byte> frame) => Pair.B.Send(frame);

    // Byte registers by their datasheet offsets.
    public const uint ChipCmd = 0x37, IntrMask = 0x3C, IntrStatus = 0x3E, Cbr = 0x3A, TxPoll = 0xD9, Config1 = 0x52;

    /// <summary>8139too read_eeprom, pin by pin (EE_ENB = 0x88, clock 0x04, data 0x02, DO 0x01).</summary>
    public ushort ReadEeprom(int location, int addressLength)
    {
        const byte enb = 0x80 | 0x08;
        int cmd = location | (6 << addressLength);
        W8(Cfg9346, enb & ~0x08);
        W8(Cfg9346, enb);
        for (int i = 4 + addressLength; i >= 0; i--)
        {
            byte bit = (byte)((cmd & (1 << i)) != 0 ? 0x02 : 0);
            W8(Cfg9346, (byte)(enb | bit));
            W8(Cfg9346, (byte)(enb | bit | 0x04));
        }
        W8(Cfg9346, enb);
        int value = 0;
        for (int i = 16; i > 0; i--)
        {
            W8(Cfg9346, enb | 0x04);
            value = value << 1 | (R8(Cfg9346) & 0x01);
            W8(Cfg9346, enb);
        }
        W8(Cfg9346, 0);
        return (ushort)value;
    }

    /// <summary>8139too rtl8139_hw_start with a ring buffer of 8 KiB &lt;&lt; <paramref name="lengthIndex"/>.</summary>
    public void StartCMode(int lengthIndex = 2, bool wrap = true, uint accept = 0x0A, ushort mask = 0xE07F)
    {
        W8(ChipCmd, 0x10);
        Assert.Equal(0, R8(ChipCmd) & 0x10);
        W8(Cfg9346, 0xC0);
        W8(ChipCmd, 0x0C);
        W32(RxConfig, (uint)lengthIndex << 11 | (wrap ? 0x80u : 0) | accept | 7 << 13 | 7 << 8);
        W32(TxConfig, 0x0300_0600);
        W8(Cfg9346, 0);
        W32(RbStart, (uint)RxRing);
        for (uint i = 0; i < 4; i++) W32(Tsad0 + 4 * i, (uint)TxBuffers + i * 2048);
        W32(RxMissed, 0);
        W16(IntrMask, mask);
        RingLength = 8192 << lengthIndex;
        CurRx = 0;
    }

    public int RingLength { get; private set; }
    public int CurRx { get; private set; }
    public int TxSlot { get; private set; }

    /// <summary>rtl8139_start_xmit: copy into the slot's buffer, write TSD with the size (OWN clear).</summary>
    public int SendC(ReadOnlySpan<byte> frame)
    {
        int slot = TxSlot;
        frame.CopyTo(Ram(TxBuffers + (ulong)slot * 2048, frame.Length));
        W32(Tsd0 + 4 * (uint)slot, (uint)Math.Max(frame.Length, 60));
        TxSlot = (slot + 1) % 4;
        return slot;
    }

    /// <summary>rtl8139_rx: one packet from the ring buffer if BUFE is clear (header status, data without FCS), CAPR advanced.</summary>
    public (ushort Status, byte[] Data)? ReceiveC()
    {
        if ((R8(ChipCmd) & 0x01) != 0) return null;
        int offset = CurRx % RingLength;
        uint header = BinaryPrimitives.ReadUInt32LittleEndian(Ram(RxRing + (ulong)offset, 4));
        int size = (int)(header >> 16);
        var data = Ram(RxRing + (ulong)offset + 4, size - 4).ToArray();
        CurRx = (CurRx + size + 4 + 3) & ~3;
        W16(Capr, (ushort)(CurRx - 16));
        return ((ushort)header, data);
    }

    /// <summary>8139cp cp_init_hw/cp_start_hw with <paramref name="count"/> descriptors per ring, all receive descriptors owned by the NIC.</summary>
    public void StartCPlus(int count = 16, ushort cpcmd = 0x0020 | 0x0008 | 0x0002 | 0x0001)
    {
        Ram(RxRing, count * 16).Clear();
        Ram(TxRing, count * 16).Clear();
        RxCount = TxCount = count;
        for (int i = 0; i < count; i++) GiveRx(i);
        W16(IntrStatus, 0xFFFF);
        W16(IntrMask, 0);
        W8(ChipCmd, 0x10);
        W8(Cfg9346, 0xC0);
        W16(CpCmd, cpcmd);
        W32(RdsarLow, (uint)RxRing);
        W32(RdsarHigh, 0);
        W32(Tsad0, (uint)TxRing);
        W32(Tsad0 + 4, 0);
        W8(ChipCmd, 0x0C);
        W32(RxConfig, 0x0A | 5 << 13 | 4 << 8);
        W32(Mar0, 0);
        W32(Mar4, 0);
        W8(Cfg9346, 0);
        W16(IntrMask, 0x80FD);
        TxHead = RxTail = 0;
    }

    public int RxCount { get; private set; }
    public int TxCount { get; private set; }
    public int TxHead { get; private set; }
    public int RxTail { get; private set; }

    public void GiveRx(int i)
    {
        var d = Ram(RxRing + (ulong)i * 16, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(d, 0x8000_0000u | (i == RxCount - 1 ? 0x4000_0000u : 0) | RxBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], RxBuffers + (ulong)i * 2048);
    }

    /// <summary>cp_start_xmit with one descriptor per fragment, then TxPoll.</summary>
    public void SendCPlus(uint flags, uint opts2, params byte[][] fragments)
    {
        int first = TxHead;
        for (int f = fragments.Length - 1; f >= 0; f--)
        {
            int entry = (first + f) % TxCount;
            ulong buffer = TxBuffers + (ulong)entry * 0x1_0000 % (1 << 20);
            fragments[f].CopyTo(Ram(buffer, fragments[f].Length));
            uint opts1 = 0x8000_0000u | (uint)fragments[f].Length | flags | (entry == TxCount - 1 ? 0x4000_0000u : 0)
                | (f == 0 ? 0x2000_0000u : 0) | (f == fragments.Length - 1 ? 0x1000_0000u : 0);
            var d = Ram(TxRing + (ulong)entry * 16, 16);
            BinaryPrimitives.WriteUInt32LittleEndian(d[4..], opts2);
            BinaryPrimitives.WriteUInt64LittleEndian(d[8..], buffer);
            BinaryPrimitives.WriteUInt32LittleEndian(d, opts1);
        }
        TxHead = (first + fragments.Length) % TxCount;
        W8(TxPoll, 0x40);
    }

    public uint TxOpts1(int entry) => BinaryPrimitives.ReadUInt32LittleEndian(Ram(TxRing + (ulong)entry * 16, 4));

    /// <summary>cp_rx_poll: the next descriptor if the NIC gave it back: (opts1, opts2, data without FCS); the descriptor is handed back.</summary>
    public (uint Opts1, uint Opts2, byte[] Data)? ReceiveCPlus()
    {
        var d = Ram(RxRing + (ulong)RxTail * 16, 16);
        uint opts1 = BinaryPrimitives.ReadUInt32LittleEndian(d);
        if ((opts1 & 0x8000_0000u) != 0) return null;
        uint opts2 = BinaryPrimitives.ReadUInt32LittleEndian(d[4..]);
        int len = (int)(opts1 & 0x1FFF) - 4;
        var data = Ram(RxBuffers + (ulong)RxTail * 2048, Math.Max(len, 0)).ToArray();
        GiveRx(RxTail);
        RxTail = (RxTail + 1) % RxCount;
        return (opts1, opts2, data);
    }

    public void Dispose() => Pair.Dispose();
}

/// <summary>The far end of the cable: keeps copies of the frames the NIC sent.</summary>
public sealed class WireRecorder : IPortReceiver
{
    private readonly List<byte[]> _frames = [];
    public IReadOnlyList<byte[]> Frames { get { lock (_frames) return _frames.ToArray(); } }
    public void Receive(ReadOnlySpan<byte> frame) { lock (_frames) _frames.Add(frame.ToArray()); }
    public void LinkChanged(bool up) { }
    public void Clear() { lock (_frames) _frames.Clear(); }
}
