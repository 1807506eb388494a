using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// Intel 82540EM (e1000) and 82574L (e1000e): register offsets from the 8254x SDM "Register Summary" (the fuzzer has no
/// compile-time reference to the personality, as the server has none). Doorbells are the ring tail
/// pointers TDT and RDT; the sanity driver is Linux e1000's ring setup with legacy descriptors.
/// </summary>
internal sealed class E1000Profile : DeviceProfile
{
    private const uint Ctrl = 0x0000, Status = 0x0008, Eecd = 0x0010, Eerd = 0x0014, Mdic = 0x0020, Vet = 0x0038;
    private const uint Icr = 0x00C0, Itr = 0x00C4, Ics = 0x00C8, Ims = 0x00D0, Imc = 0x00D8;
    private const uint Rctl = 0x0100, Tctl = 0x0400;
    private const uint Rdbal = 0x2800, Rdbah = 0x2804, Rdlen = 0x2808, Rdh = 0x2810, Rdt = 0x2818, Rdtr = 0x2820, Radv = 0x282C;
    private const uint Tdbal = 0x3800, Tdbah = 0x3804, Tdlen = 0x3808, Tdh = 0x3810, Tdt = 0x3818, Tidv = 0x3820, Tadv = 0x382C;
    private const uint Rxcsum = 0x5000, Mta = 0x5200, Ral = 0x5400, Rah = 0x5404, Vfta = 0x5600;
    private const uint CtrlSlu = 1u << 6;
    private const uint RctlEn = 1u << 1, RctlBam = 1u << 15, RctlSecrc = 1u << 26;
    // TCTL: EN, PSP, CT = 0x0F, COLD = 0x3F (Linux e1000_configure_tx).
    private const uint TctlStart = 0x0003_F0FA;
    private const uint TxEop = 1u << 24, TxIfcs = 1u << 25, TxRs = 1u << 27;

    // The 82574L (e1000e) adds MSI-X routing, extended/packet-split receive and its NVM registers; its I/O window is BAR 2.
    private const uint CtrlExt = 0x0018, Eiac = 0x00DC, Iam = 0x00E0, Ivar = 0x00E4, Eewr = 0x102C, Psrctl = 0x2170, Rfctl = 0x5008;

    private readonly bool _i82574;

    /// <param name="i82574">The 82574L (e1000e): its extra registers are fuzzed too, and the I/O window is on BAR 2.</param>
    public E1000Profile(bool i82574 = false)
    {
        _i82574 = i82574;
        uint[] common = [Ctrl, Status, Eecd, Eerd, Mdic, Vet, Icr, Itr, Ics, Ims, Imc, Rctl, Tctl, Rdbal, Rdbah, Rdlen, Rdh, Rdt, Rdtr, Radv,
                         Tdbal, Tdbah, Tdlen, Tdh, Tdt, Tidv, Tadv, Rxcsum, Mta, Ral, Rah, Vfta];
        uint[] extra = i82574 ? [CtrlExt, Eiac, Iam, Ivar, Eewr, Psrctl, Rfctl] : [];
        int io = i82574 ? 2 : 1;
        Registers =
        [
            .. common.Concat(extra).Select(o => new RegisterHint(0, o, 4)),
            new RegisterHint(io, 0, 4), new RegisterHint(io, 4, 4),   // the I/O window: IOADDR, IODATA
        ];
    }

    public override IReadOnlyList<RegisterHint> Registers { get; }

    public override bool HasDoorbells => true;

    public override void Doorbell(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        switch (random.Below(13))
        {
            case 12:
                // The driver turns receive and transmit back on (random RCTL/TCTL and CTRL.RST writes keep turning them off).
                d.Write(0, Rctl, d.Read(0, Rctl, 4) | RctlEn, 4);
                d.Write(0, Tctl, d.Read(0, Tctl, 4) | 1u << 1, 4);
                break;
            case < 3: d.Write(0, Tdt, Index(d, random, Tdlen), 4); break;
            case < 5: d.Write(0, Rdt, Index(d, random, Rdlen), 4); break;
            case < 7: Offer(d, values, transmit: true); break;
            case 7: OfferOffloaded(d, values); break;
            case < 10: Offer(d, values, transmit: false); break;
            case 10: d.Write(0, Ics, random.NextUInt32() & 0x1FFFF, 4); break;
            default: d.Write(0, Rdtr, 1u << 31 | (uint)random.Below(64), 4); break;   // FPD: flush the receive timer
        }
    }

    /// <summary>
    /// What a driver does to send or to post buffers, with hostile content: descriptors written at the
    /// tail the device has (legacy, context or data, any command bits; buffers anywhere), then the
    /// tail moved past them.
    /// </summary>
    private static void Offer(FuzzedDevice d, AdversarialValues values, bool transmit)
    {
        var random = values.Random;
        ulong @base = d.Read(0, transmit ? Tdbal : Rdbal, 4) | d.Read(0, transmit ? Tdbah : Rdbah, 4) << 32;
        ulong entries = d.Read(0, transmit ? Tdlen : Rdlen, 4) / 16;
        if (entries == 0 || @base >= values.RamEnd || values.RamEnd - @base < entries * 16) return;
        ulong tail = d.Read(0, transmit ? Tdt : Rdt, 4) % entries;
        int count = random.Between(1, 4);
        for (int i = 0; i < count; i++)
        {
            var descriptor = d.Ram(@base + (tail + (ulong)i) % entries * 16, 16);
            ulong buffer = random.Percent(70) ? (transmit ? SanityLayout.TxBuffers : SanityLayout.RxBuffers) + (ulong)random.Below(16) * 256 : values.Pointer();
            BinaryPrimitives.WriteUInt64LittleEndian(descriptor, buffer);
            uint length = random.Percent(70) ? (uint)random.Between(0, 1600) : (uint)values.Length() & 0xFFFF;
            // Command byte: EOP mostly on the last, RS, IFCS, IC/TSE, DEXT; DTYP 0 (context) or 1 (data) under DEXT.
            uint command = random.NextUInt32() & 0xFF00_0000 | (i == count - 1 && random.Percent(80) ? TxEop : 0) | (uint)random.Below(2) << 20;
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], transmit ? length | command | (random.NextUInt32() & 0x000F_0000) : 0);
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[12..], transmit ? random.NextUInt32() & 0xFFFF_FF00 : 0);
        }
        d.Write(0, transmit ? Tdt : Rdt, (tail + (ulong)count) % entries, 4);
    }

    /// <summary>A ring index: mostly inside the ring the device has, sometimes anything.</summary>
    private static ulong Index(FuzzedDevice d, FuzzRandom random, uint lengthRegister)
    {
        if (random.OneIn(8)) return random.NextUInt32();
        ulong entries = Math.Max(1, d.Read(0, lengthRegister, 4) / 16);
        return random.Below(entries + 1);
    }

    /// <summary>
    /// A packet as Linux e1000_tso / e1000_tx_csum queue it: a context descriptor (checksum starts,
    /// offsets and ends, PAYLEN, HDRLEN, MSS, TSE) and the packet's data descriptors, with every field
    /// near what the headers say and now and then not; then the tail moved past them.
    /// </summary>
    private void OfferOffloaded(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        ulong @base = d.Read(0, Tdbal, 4) | d.Read(0, Tdbah, 4) << 32;
        ulong entries = d.Read(0, Tdlen, 4) / 16;
        if (entries < 4 || @base >= values.RamEnd || values.RamEnd - @base < entries * 16) return;
        var buffer = d.Ram(SanityLayout.TxBuffers, 0x1_0000);
        var (length, headers) = FrameGenerator.Tcp(random, buffer);
        bool v6 = buffer[12] == 0x86;
        int l4 = headers - 20;
        byte Near(int value) => (byte)(random.OneIn(8) ? random.NextUInt32() : (uint)value);
        bool tse = random.Percent(70);
        ulong context = Near(14) | (ulong)Near(v6 ? 0 : 24) << 8 | (ulong)(random.OneIn(4) ? random.NextUInt32() & 0xFFFF : (uint)(v6 ? 0 : l4 - 1)) << 16
            | (ulong)Near(l4) << 32 | (ulong)Near(l4 + 16) << 40 | (ulong)(random.OneIn(8) ? random.NextUInt32() & 0xFFFF : 0) << 48;
        uint payload = random.OneIn(8) ? random.NextUInt32() & 0xF_FFFF : (uint)(length - headers);
        uint contextLower = payload | 1u << 29 | (tse ? 1u << 26 : 0) | (random.Percent(90) ? TxEop : 0) | (v6 ? 0 : TxIfcs) | TxRs;
        ushort mss = (ushort)random.Pick<int>([1, 8, 536, 1448, 1460, 9000, random.Between(0, 0xFFFF)]);
        uint contextUpper = (uint)Near(headers) << 8 | (uint)mss << 16;
        ulong tail = d.Read(0, Tdt, 4) % entries;
        Write(d, @base, entries, tail, context, contextLower, contextUpper);
        int pieces = random.Between(1, 3), at = 0;
        for (int i = 0; i < pieces; i++)
        {
            int size = i == pieces - 1 ? length - at : random.Between(0, length - at);
            // Data descriptor: DEXT, DTYP 1, TSE, RS, EOP on the last; POPTS IXSM/TXSM.
            uint lower = (uint)size | 1u << 29 | 1u << 20 | (tse ? 1u << 26 : 0) | TxRs | (i == pieces - 1 ? TxEop : 0);
            uint upper = (uint)random.Below(4) << 8;
            Write(d, @base, entries, tail + 1 + (ulong)i, SanityLayout.TxBuffers + (ulong)at, lower, upper);
            at += size;
        }
        d.Write(0, Tdt, (tail + 1 + (ulong)pieces) % entries, 4);
    }

    private static void Write(FuzzedDevice d, ulong @base, ulong entries, ulong index, ulong address, uint lower, uint upper)
    {
        var descriptor = d.Ram(@base + index % entries * 16, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(descriptor, address);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], lower);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[12..], upper);
    }

    public override void Initialize(FuzzedDevice d, FuzzRandom? variation = null)
    {
        d.Write(0, Imc, 0xFFFF_FFFF, 4);
        d.Write(0, Ctrl, d.Read(0, Ctrl, 4) | CtrlSlu, 4);
        d.Ram(SanityLayout.TxRing, SanityLayout.Entries * 16).Clear();
        d.Write(0, Tdbal, SanityLayout.TxRing, 4);
        d.Write(0, Tdbah, 0, 4);
        d.Write(0, Tdlen, SanityLayout.Entries * 16, 4);
        d.Write(0, Tdh, 0, 4);
        d.Write(0, Tdt, 0, 4);
        d.Write(0, Tctl, TctlStart, 4);
        var rx = d.Ram(SanityLayout.RxRing, SanityLayout.Entries * 16);
        rx.Clear();
        for (int i = 0; i < SanityLayout.Entries; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(rx[(i * 16)..], SanityLayout.RxBuffers + (ulong)i * SanityLayout.BufferSize);
        d.Write(0, Rdbal, SanityLayout.RxRing, 4);
        d.Write(0, Rdbah, 0, 4);
        d.Write(0, Rdlen, SanityLayout.Entries * 16, 4);
        d.Write(0, Rdh, 0, 4);
        d.Write(0, Rdt, SanityLayout.Entries - 1, 4);
        d.Write(0, Rctl, RctlEn | RctlBam | RctlSecrc, 4);   // 2 KiB buffers (BSIZE 0), broadcast, FCS stripped
        if (variation is not null)
        {
            // Any receive mode (promiscuous, long packets, loopback, buffer sizes, VLAN filter) and checksum offload.
            d.Write(0, Rctl, RctlEn | variation.NextUInt32() & 0x06DF_B3FC, 4);
            d.Write(0, Rxcsum, variation.NextUInt32() & 0x3FF, 4);
        }
        d.Write(0, Ims, 0x9D, 4);                             // TXDW, LSC, RXDMT0, RXO, RXT0: what Linux enables
    }

    /// <summary>Words 0-2 of the 82574's NVM through EERD (START bit 0, address from bit 2, data 31:16) as RAL/RAH values.</summary>
    private static (uint Low, uint High) NvmStationAddress(FuzzedDevice d)
    {
        Span<uint> words = stackalloc uint[3];
        for (int i = 0; i < 3; i++)
        {
            d.Write(0, Eerd, (uint)i << 2 | 1, 4);
            words[i] = (uint)(d.Read(0, Eerd, 4) >> 16) & 0xFFFF;
        }
        return (words[0] | words[1] << 16, words[2]);
    }

    public override string? Check(FuzzedDevice d)
    {
        // RAL0/RAH0 come from the EEPROM at reset, with Address Valid (SDM 13.5.2). The 82574's NVM is
        // one EEWR write away from a fuzzer, so there the words are read back through EERD first.
        var (low, high) = _i82574 ? NvmStationAddress(d) : FuzzedDevice.Mac.ToLowHigh();
        ulong ral = d.Read(0, Ral, 4), rah = d.Read(0, Rah, 4);
        if (ral != low || rah != (high | 1u << 31)) return $"RAL0/RAH0 read {ral:x8}/{rah:x8}, not the station address {low:x8}/{high | 1u << 31:x8}";

        var port = d.Port!;
        port.ClearLast();
        var frame = KnownFrames.Outbound;
        frame.CopyTo(d.Ram(SanityLayout.TxBuffers, frame.Length));
        var descriptor = d.Ram(SanityLayout.TxRing, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(descriptor, SanityLayout.TxBuffers);
        BinaryPrimitives.WriteUInt64LittleEndian(descriptor[8..], (uint)frame.Length | TxEop | TxIfcs | TxRs);
        d.Write(0, Tdt, 1, 4);
        if ((d.Ram(SanityLayout.TxRing + 12, 1)[0] & 1) == 0) return "the transmit descriptor was not written back (DD clear)";
        if (KnownFrames.Compare("the transmitted frame", frame, port.LastFrame) is { } sent) return sent;

        port.Receiver!.Receive(KnownFrames.Inbound);
        var written = d.Ram(SanityLayout.RxRing, 16);
        if ((written[12] & 3) != 3) return $"the receive descriptor has status 0x{written[12]:x2}, not DD|EOP";
        int length = BinaryPrimitives.ReadUInt16LittleEndian(written[8..]);
        return KnownFrames.Compare("the received frame", KnownFrames.Inbound, d.Ram(SanityLayout.RxBuffers, Math.Min(length, SanityLayout.BufferSize)));
    }
}
