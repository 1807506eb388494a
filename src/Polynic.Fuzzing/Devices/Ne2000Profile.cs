namespace Polynic.Fuzzing.Devices;

/// <summary>
/// NE2000 PCI (RTL8029, the <c>ne2000</c> descriptor with its C# behaviour): DP8390 registers paged
/// by CR, the remote DMA data port at 0x10 and the reset port at 0x1F (DP8390 datasheet; RTL8029AS
/// datasheet). The card has no bus-master DMA: frames move through its own 16 KiB packet memory by
/// programmed I/O, so the sanity driver reads the received frame back through the data port, as
/// ne2k-pci does, instead of finding it in guest RAM. Doorbells: CR (transmit, remote DMA) and the
/// data port.
/// </summary>
internal sealed class Ne2000Profile : DeviceProfile
{
    private const int Bar = 0;
    private const uint Cr = 0x00, Pstart = 0x01, Pstop = 0x02, Bnry = 0x03, Tpsr = 0x04, Tbcr0 = 0x05, Tbcr1 = 0x06, Isr = 0x07;
    private const uint Rsar0 = 0x08, Rsar1 = 0x09, Rbcr0 = 0x0A, Rbcr1 = 0x0B, Rcr = 0x0C, Tcr = 0x0D, Dcr = 0x0E, Imr = 0x0F;
    private const uint Curr = 0x07, Data = 0x10, ResetPort = 0x1F;
    private const uint Id0 = 0x0A, Id1 = 0x0B;
    // Ring of 256-byte pages as ne2k-pci sets it: transmit buffer at 0x40, receive 0x46-0x80.
    private const byte TxPage = 0x40, RxStart = 0x46, RxStop = 0x80;

    public override IReadOnlyList<RegisterHint> Registers { get; } =
    [
        .. Enumerable.Range(0, 16).Select(o => new RegisterHint(Bar, (uint)o, 1)),
        new RegisterHint(Bar, Data, 1), new RegisterHint(Bar, Data, 2), new RegisterHint(Bar, Data, 4), new RegisterHint(Bar, ResetPort, 1),
    ];

    public override bool HasDoorbells => true;

    public override void Doorbell(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        switch (random.Below(6))
        {
            case 0 or 1:
                // Remote DMA: an address and count, then CR with remote read or write.
                d.Write(Bar, Rsar0, random.NextUInt32() & 0xFF, 1);
                d.Write(Bar, Rsar1, random.Coin() ? (uint)random.Between(0x40, 0x80) : random.NextUInt32() & 0xFF, 1);
                d.Write(Bar, Rbcr0, random.NextUInt32() & 0xFF, 1);
                d.Write(Bar, Rbcr1, random.NextUInt32() & 0x7F, 1);
                d.Write(Bar, Cr, random.Coin() ? 0x0Au : 0x12u, 1);
                break;
            case 2:
                d.Write(Bar, Tpsr, random.Coin() ? TxPage : random.NextUInt32() & 0xFF, 1);
                d.Write(Bar, Tbcr0, random.NextUInt32() & 0xFF, 1);
                d.Write(Bar, Tbcr1, random.NextUInt32() & 0x0F, 1);
                d.Write(Bar, Cr, 0x26, 1);   // TXP with remote DMA aborted, started
                break;
            case 3:
                int width = random.Pick<int>([1, 2, 4]);
                if (random.Coin()) d.Read(Bar, Data, width);
                else d.Write(Bar, Data, random.NextUInt64(), width);
                break;
            case 4:
                d.Write(Bar, Cr, random.NextUInt32() & 0xFF, 1);
                break;
            default:
                d.Read(Bar, ResetPort, 1);
                break;
        }
    }

    /// <summary>ne2k-pci ne2k_pci_init and NS8390_init: reset, word mode, ring at 0x46-0x80, station address, started.</summary>
    public override void Initialize(FuzzedDevice d, FuzzRandom? variation = null)
    {
        d.Read(Bar, ResetPort, 1);
        d.Write(Bar, Isr, 0xFF, 1);
        d.Write(Bar, Cr, 0x21, 1);
        d.Write(Bar, Dcr, 0x49, 1);
        d.Write(Bar, Rbcr0, 0, 1);
        d.Write(Bar, Rbcr1, 0, 1);
        d.Write(Bar, Rcr, 0x20, 1);
        d.Write(Bar, Tcr, 0x02, 1);
        d.Write(Bar, Tpsr, TxPage, 1);
        d.Write(Bar, Pstart, RxStart, 1);
        d.Write(Bar, Bnry, RxStart, 1);
        d.Write(Bar, Pstop, RxStop, 1);
        d.Write(Bar, Isr, 0xFF, 1);
        d.Write(Bar, Imr, 0, 1);
        d.Write(Bar, Cr, 0x61, 1);
        Span<byte> mac = stackalloc byte[6];
        FuzzedDevice.Mac.CopyTo(mac);
        for (uint i = 0; i < 6; i++) d.Write(Bar, 1 + i, mac[(int)i], 1);
        for (uint i = 0; i < 8; i++) d.Write(Bar, 8 + i, 0xFF, 1);
        d.Write(Bar, Curr, RxStart + 1, 1);
        d.Write(Bar, Cr, 0x21, 1);
        d.Write(Bar, Cr, 0x22, 1);
        d.Write(Bar, Isr, 0xFF, 1);
        d.Write(Bar, Imr, 0x3F, 1);
        d.Write(Bar, Tcr, 0, 1);
        d.Write(Bar, Rcr, 0x04, 1);
    }

    public override string? Check(FuzzedDevice d)
    {
        ulong id = d.Read(Bar, Id0, 1) | d.Read(Bar, Id1, 1) << 8;
        if (id != 0x4350) return $"the RTL8029 ID registers read 0x{id:x4}, not 'PC'";

        var frame = KnownFrames.Outbound;
        RemoteDma(d, TxPage << 8, frame.Length, write: true);
        for (int i = 0; i < frame.Length; i += 2) d.Write(Bar, Data, (uint)(frame[i] | frame[i + 1] << 8), 2);
        d.Port!.ClearLast();
        d.Write(Bar, Tpsr, TxPage, 1);
        d.Write(Bar, Tbcr0, (uint)frame.Length & 0xFF, 1);
        d.Write(Bar, Tbcr1, (uint)frame.Length >> 8, 1);
        d.Write(Bar, Cr, 0x26, 1);
        if (KnownFrames.Compare("the transmitted frame", frame, d.Port.LastFrame) is { } sent) return sent;

        d.Port.Receiver!.Receive(KnownFrames.Inbound);
        d.Write(Bar, Cr, 0x62, 1);
        ulong current = d.Read(Bar, Curr, 1);
        d.Write(Bar, Cr, 0x22, 1);
        if (current == RxStart + 1) return "CURR did not move after a frame";
        // The 4-byte header (status, next page, length) and the frame, read back by remote DMA.
        int length = 4 + KnownFrames.Inbound.Length;
        RemoteDma(d, (RxStart + 1) << 8, length, write: false);
        var received = new byte[length];
        for (int i = 0; i < length; i += 2)
        {
            ulong word = d.Read(Bar, Data, 2);
            received[i] = (byte)word;
            received[i + 1] = (byte)(word >> 8);
        }
        if ((received[0] & 1) == 0) return $"the receive header status is 0x{received[0]:x2}, not received-OK";
        return KnownFrames.Compare("the received frame", KnownFrames.Inbound, received.AsSpan(4));
    }

    private static void RemoteDma(FuzzedDevice d, int address, int count, bool write)
    {
        d.Write(Bar, Rbcr0, (uint)count & 0xFF, 1);
        d.Write(Bar, Rbcr1, (uint)count >> 8, 1);
        d.Write(Bar, Rsar0, (uint)address & 0xFF, 1);
        d.Write(Bar, Rsar1, (uint)address >> 8, 1);
        d.Write(Bar, Cr, write ? 0x12u : 0x0Au, 1);
    }
}
