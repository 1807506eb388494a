using System.Buffers.Binary;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// Realtek RTL8139C in C mode (<c>rtl8139</c>, Linux 8139too: a receive ring buffer, four transmit
/// slots) or C+ mode (<c>rtl8139cp</c>, Linux 8139cp: descriptor rings). Offsets from the RTL8139C(L)+
/// datasheet 1.6, section 6; both BARs (I/O and memory) decode the same 256 bytes. Doorbells: the
/// transmit status registers TSD0-3 and CAPR in C mode, TPPoll in C+ mode.
/// </summary>
internal sealed class Rtl8139Profile(bool cPlus) : DeviceProfile
{
    private const int IoBar = 0, MemoryBar = 1;
    private const uint Idr0 = 0x00, Mar0 = 0x08, Mar4 = 0x0C, Tsd0 = 0x10, Tsad0 = 0x20, RbStart = 0x30, ChipCmd = 0x37, Capr = 0x38, Cbr = 0x3A;
    private const uint Imr = 0x3C, Isr = 0x3E, TxConfig = 0x40, RxConfig = 0x44, RxMissed = 0x4C, Cfg9346 = 0x50, Config1 = 0x52, MediaStatus = 0x58;
    private const uint Bmcr = 0x62, TxPoll = 0xD9, RxMaxSize = 0xDA, CpCmd = 0xE0, RdsarLow = 0xE4, RdsarHigh = 0xE8;
    private const byte CmdReset = 0x10, CmdRxTx = 0x0C;
    private const uint DescOwn = 1u << 31, DescRingEnd = 1u << 30, DescFirst = 1u << 29, DescLast = 1u << 28;
    /// <summary>C-mode receive ring: 8 KiB (RBLEN 0) with WRAP, so a frame may run past the end.</summary>
    private const int RingLength = 8192;

    private static readonly (uint Offset, int Width)[] Map =
    [
        (Idr0, 4), (0x04, 4), (Mar0, 4), (Mar4, 4), (Tsd0, 4), (Tsd0 + 4, 4), (Tsd0 + 8, 4), (Tsd0 + 12, 4),
        (Tsad0, 4), (Tsad0 + 4, 4), (Tsad0 + 8, 4), (Tsad0 + 12, 4), (RbStart, 4), (ChipCmd, 1), (Capr, 2), (Cbr, 2),
        (Imr, 2), (Isr, 2), (TxConfig, 4), (RxConfig, 4), (RxMissed, 4), (Cfg9346, 1), (Config1, 1), (MediaStatus, 1),
        (Bmcr, 2), (TxPoll, 1), (RxMaxSize, 2), (CpCmd, 2), (RdsarLow, 4), (RdsarHigh, 4),
    ];

    public override IReadOnlyList<RegisterHint> Registers { get; } =
        Map.SelectMany(r => new[] { new RegisterHint(IoBar, r.Offset, r.Width), new RegisterHint(MemoryBar, r.Offset, r.Width) }).ToArray();

    public override bool HasDoorbells => true;

    public override void Doorbell(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        int bar = random.Coin() ? IoBar : MemoryBar;
        switch (random.Below(9))
        {
            case < 3:
                // A transmit slot: size and early-threshold bits, OWN mostly clear (the driver's "go").
                uint size = random.OneIn(4) ? random.NextUInt32() & 0x1FFF : (uint)random.Pick<int>([0, 14, 60, 98, 1514, 1792, 0x1FFF]);
                d.Write(bar, Tsd0 + 4 * (uint)random.Below(4), size | (random.OneIn(6) ? 1u << 13 : 0) | (uint)random.Below(64) << 16, 4);
                break;
            case < 5:
                d.Write(bar, Capr, random.OneIn(4) ? random.NextUInt32() & 0xFFFF : (d.Read(bar, Cbr, 2) - 16 + (ulong)random.Below(64)) & 0xFFFF, 2);
                break;
            case 5:
                d.Write(bar, ChipCmd, random.Pick<uint>([CmdRxTx, 0x08, 0x04, 0x00, CmdReset]), 1);
                break;
            case 6:
                OfferCPlus(d, values);
                d.Write(bar, TxPoll, 0x40, 1);
                break;
            default:
                d.Write(bar, TxPoll, random.Pick<uint>([0x40, 0x80, 0xC0, 0x01]), 1);
                break;
        }
    }

    /// <summary>
    /// C+ descriptors handed to the NIC with hostile content: OWN set, first/last and ring-end bits
    /// anywhere, lengths and offload bits (large send, checksums, VLAN) at random, buffers anywhere;
    /// in the transmit ring (TNPDS) or the receive ring (RDSAR).
    /// </summary>
    private static void OfferCPlus(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        bool transmit = random.Coin();
        ulong ring = transmit ? d.Read(MemoryBar, Tsad0, 4) | d.Read(MemoryBar, Tsad0 + 4, 4) << 32 : d.Read(MemoryBar, RdsarLow, 4) | d.Read(MemoryBar, RdsarHigh, 4) << 32;
        if (ring >= values.RamEnd || values.RamEnd - ring < 64 * 16) return;
        if (transmit && random.OneIn(3))
        {
            // A packet as 8139cp cp_start_xmit queues it for large send or checksum offload
            // (datasheet 9.2.1: LGSEN with MSS in bits 26:16, or IPCS/UDPCS/TCPCS), in one or two fragments.
            var (length, _) = FrameGenerator.Tcp(random, d.Ram(SanityLayout.TxBuffers, 0x1_0000));
            uint offload = random.Coin() ? 1u << 27 | (uint)random.Pick<int>([1, 8, 536, 1448, 1460, random.Below(0x800)]) << 16 : random.NextUInt32() & 0x0007_0000;
            int first = random.Below(62), split = random.Coin() ? length : random.Between(0, length);
            WriteCPlus(d, ring, first, DescOwn | DescFirst | (split == length ? DescLast : 0) | offload | (uint)split, SanityLayout.TxBuffers);
            if (split < length) WriteCPlus(d, ring, first + 1, DescOwn | DescLast | offload | (uint)(length - split), SanityLayout.TxBuffers + (ulong)split);
            return;
        }
        for (int i = 0, n = random.Between(1, 6); i < n; i++)
        {
            var entry = d.Ram(ring + (ulong)random.Below(64) * 16, 16);
            uint length = random.Percent(70) ? (uint)random.Between(0, 1600) : (uint)values.Length() & 0xFFFF;
            BinaryPrimitives.WriteUInt32LittleEndian(entry, DescOwn | random.NextUInt32() & 0x7FFF_0000 & (random.Coin() ? 0x700F_0000u : 0xFFFF_0000u) | length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], random.Coin() ? 0 : random.NextUInt32());
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], random.Percent(70)
                ? (transmit ? SanityLayout.TxBuffers : SanityLayout.RxBuffers) + (ulong)random.Below(16) * 512 : values.Pointer());
        }
    }

    private static void WriteCPlus(FuzzedDevice d, ulong ring, int index, uint opts1, ulong buffer)
    {
        var entry = d.Ram(ring + (ulong)index * 16, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], buffer);
        BinaryPrimitives.WriteUInt32LittleEndian(entry, opts1);
    }

    public override void Initialize(FuzzedDevice d, FuzzRandom? variation = null)
    {
        if (cPlus) InitializeCPlus(d);
        else InitializeC(d);
        // Varied: any receive mode (all/physical/multicast/broadcast, runts, errors) and ring length.
        if (variation is not null) d.Write(MemoryBar, RxConfig, 0x80 | variation.NextUInt32() & 0x1F3F | (uint)variation.Below(4) << 11 | 7u << 8, 4);
    }

    public override string? Check(FuzzedDevice d)
    {
        // IDR0-5 come from the EEPROM at reset (datasheet 6: "ID registers ... loaded from the EEPROM").
        Span<byte> idr = stackalloc byte[6];
        for (int i = 0; i < 6; i++) idr[i] = (byte)d.Read(MemoryBar, Idr0 + (uint)i, 1);
        Span<byte> mac = stackalloc byte[6];
        FuzzedDevice.Mac.CopyTo(mac);
        if (!idr.SequenceEqual(mac)) return $"IDR0-5 read {Convert.ToHexString(idr)}, not the station address {Convert.ToHexString(mac)}";
        d.Port!.ClearLast();
        return cPlus ? CheckCPlus(d) : CheckC(d);
    }

    /// <summary>8139too rtl8139_hw_start.</summary>
    private static void InitializeC(FuzzedDevice d)
    {
        d.Write(MemoryBar, ChipCmd, CmdReset, 1);
        d.Write(MemoryBar, Cfg9346, 0xC0, 1);
        d.Write(MemoryBar, ChipCmd, CmdRxTx, 1);
        d.Write(MemoryBar, RxConfig, 0x80 | 0x0A | 7u << 13 | 7u << 8, 4);   // WRAP, accept my address and broadcast
        d.Write(MemoryBar, TxConfig, 0x0300_0600, 4);
        d.Write(MemoryBar, Cfg9346, 0, 1);
        d.Ram(SanityLayout.RxRing, RingLength + 16).Clear();
        d.Write(MemoryBar, RbStart, SanityLayout.RxRing, 4);
        for (uint i = 0; i < 4; i++) d.Write(MemoryBar, Tsad0 + 4 * i, SanityLayout.TxBuffers + i * SanityLayout.BufferSize, 4);
        d.Write(MemoryBar, RxMissed, 0, 4);
        d.Write(MemoryBar, Imr, 0xE07F, 2);
    }

    private static string? CheckC(FuzzedDevice d)
    {
        var frame = KnownFrames.Outbound;
        frame.CopyTo(d.Ram(SanityLayout.TxBuffers, frame.Length));
        d.Write(MemoryBar, Tsd0, (uint)frame.Length, 4);
        if ((d.Read(MemoryBar, Tsd0, 4) & 1u << 15) == 0) return "TSD0 does not report the frame sent (TOK clear)";
        if (KnownFrames.Compare("the transmitted frame", frame, d.Port!.LastFrame) is { } sent) return sent;

        d.Port.Receiver!.Receive(KnownFrames.Inbound);
        if ((d.Read(MemoryBar, ChipCmd, 1) & 1) != 0) return "the receive buffer is still empty (BUFE) after a frame";
        uint header = BinaryPrimitives.ReadUInt32LittleEndian(d.Ram(SanityLayout.RxRing, 4));
        if ((header & 1) == 0) return $"the receive header 0x{header:x8} lacks ROK";
        return KnownFrames.Compare("the received frame", KnownFrames.Inbound, d.Ram(SanityLayout.RxRing + 4, (int)Math.Min(header >> 16, 2048)));
    }

    /// <summary>8139cp cp_init_hw / cp_start_hw with all receive descriptors owned by the NIC.</summary>
    private static void InitializeCPlus(FuzzedDevice d)
    {
        var rx = d.Ram(SanityLayout.RxRing, SanityLayout.Entries * 16);
        for (int i = 0; i < SanityLayout.Entries; i++)
        {
            var entry = rx.Slice(i * 16, 16);
            BinaryPrimitives.WriteUInt32LittleEndian(entry, DescOwn | (i == SanityLayout.Entries - 1 ? DescRingEnd : 0) | 1536);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], SanityLayout.RxBuffers + (ulong)i * SanityLayout.BufferSize);
        }
        d.Ram(SanityLayout.TxRing, SanityLayout.Entries * 16).Clear();
        d.Write(MemoryBar, Isr, 0xFFFF, 2);
        d.Write(MemoryBar, Imr, 0, 2);
        d.Write(MemoryBar, ChipCmd, CmdReset, 1);
        d.Write(MemoryBar, Cfg9346, 0xC0, 1);
        d.Write(MemoryBar, CpCmd, 0x002B, 2);                  // RxChkSum, PCIMulRW, RxOn, TxOn
        d.Write(MemoryBar, RdsarLow, SanityLayout.RxRing, 4);
        d.Write(MemoryBar, RdsarHigh, 0, 4);
        d.Write(MemoryBar, Tsad0, SanityLayout.TxRing, 4);     // TNPDS in C+ mode
        d.Write(MemoryBar, Tsad0 + 4, 0, 4);
        d.Write(MemoryBar, ChipCmd, CmdRxTx, 1);
        d.Write(MemoryBar, RxConfig, 0x0A | 5u << 13 | 4u << 8, 4);
        d.Write(MemoryBar, Mar0, 0, 4);
        d.Write(MemoryBar, Mar4, 0, 4);
        d.Write(MemoryBar, Cfg9346, 0, 1);
        d.Write(MemoryBar, Imr, 0x80FD, 2);
    }

    private static string? CheckCPlus(FuzzedDevice d)
    {
        var frame = KnownFrames.Outbound;
        frame.CopyTo(d.Ram(SanityLayout.TxBuffers, frame.Length));
        var tx = d.Ram(SanityLayout.TxRing, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(tx[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(tx[8..], SanityLayout.TxBuffers);
        BinaryPrimitives.WriteUInt32LittleEndian(tx, DescOwn | DescFirst | DescLast | (uint)frame.Length);
        d.Write(MemoryBar, TxPoll, 0x40, 1);
        if ((BinaryPrimitives.ReadUInt32LittleEndian(d.Ram(SanityLayout.TxRing, 4)) & DescOwn) != 0) return "the transmit descriptor is still owned by the NIC";
        if (KnownFrames.Compare("the transmitted frame", frame, d.Port!.LastFrame) is { } sent) return sent;

        d.Port.Receiver!.Receive(KnownFrames.Inbound);
        uint opts1 = BinaryPrimitives.ReadUInt32LittleEndian(d.Ram(SanityLayout.RxRing, 4));
        if ((opts1 & DescOwn) != 0) return "the first receive descriptor is still owned by the NIC after a frame";
        return KnownFrames.Compare("the received frame", KnownFrames.Inbound, d.Ram(SanityLayout.RxBuffers, (int)Math.Min(opts1 & 0x1FFF, 2048)));
    }
}
