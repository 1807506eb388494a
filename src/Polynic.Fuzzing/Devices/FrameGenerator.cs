using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// Frames a hostile network sends: runts to 68 KiB giants, to this NIC, broadcast, multicast or
/// elsewhere, IPv4/IPv6/VLAN/ARP headers with lying length and checksum fields, and — when the NIC
/// declared it takes them — the offloads a tap delivers (partial checksums, TCP GSO frames), within
/// the bounds every Polynic port checks before it hands a frame on.
/// </summary>
internal sealed class FrameGenerator(FuzzRandom random)
{
    private const int EthernetHeader = 14;
    private readonly byte[] _frame = new byte[FuzzPort.QemuStreamLimit];

    private static readonly int[] Lengths = [14, 15, 42, 59, 60, 61, 64, 98, 128, 576, 1514, 1515, 1518, 1522, 1523, 2048, 9018];

    /// <summary>A new frame (valid until the next call) and, if <paramref name="accepted"/> allows any, sometimes an offload.</summary>
    public ReadOnlySpan<byte> Next(PortCapabilities accepted, out FrameOffload? offload)
    {
        var r = random;
        int length = r.Below(10) switch
        {
            < 5 => r.Pick<int>(Lengths),
            < 9 => r.Between(EthernetHeader, 1600),
            _ => r.Between(EthernetHeader, _frame.Length),
        };
        var frame = _frame.AsSpan(0, length);
        r.Fill(frame);
        Destination(frame);
        int l3 = Headers(frame);
        offload = accepted != PortCapabilities.None && r.Percent(40) ? Offload(accepted, length, l3) : null;
        return frame;
    }

    /// <summary>
    /// A TCP frame a driver would hand its NIC for segmentation or checksum offload: Ethernet, IPv4
    /// (or IPv6) and TCP headers that mostly add up, random payload, now and then a field that lies.
    /// Written into <paramref name="into"/>; returns its length and the length of its headers.
    /// </summary>
    public static (int Length, int HeaderLength) Tcp(FuzzRandom r, Span<byte> into)
    {
        bool v6 = r.OneIn(4);
        int l3 = EthernetHeader, l4 = l3 + (v6 ? 40 : 20), headers = l4 + 20;
        int length = Math.Min(into.Length, r.Below(4) switch { 0 => r.Between(headers, 200), 1 => r.Between(headers, 1514), _ => r.Between(headers, 0xFFFF) });
        var frame = into[..length];
        r.Fill(frame[headers..]);
        frame[..headers].Clear();
        FuzzedDevice.Mac.CopyTo(frame[6..]);
        frame[0] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], v6 ? (ushort)0x86DD : (ushort)0x0800);
        if (v6)
        {
            frame[l3] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 4)..], (ushort)(length - l4));
            frame[l3 + 6] = 6;
            frame[l3 + 7] = 64;
        }
        else
        {
            frame[l3] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 2)..], (ushort)Math.Min(length - l3, 0xFFFF));
            frame[l3 + 8] = 64;
            frame[l3 + 9] = 6;
        }
        frame[l4 + 12] = 5 << 4;
        frame[l4 + 13] = 0x18;                                           // PSH, ACK
        if (r.OneIn(6)) frame[r.Below(headers)] = (byte)r.NextUInt32();  // one lying header byte
        return (length, headers);
    }

    private void Destination(Span<byte> frame)
    {
        switch (random.Below(5))
        {
            case 0: FuzzedDevice.Mac.CopyTo(frame); break;
            case 1: MacAddress.Broadcast.CopyTo(frame); break;
            case 2: frame[0] = 0x01; frame[1] = 0x00; frame[2] = 0x5E; break;   // IPv4 multicast
            case 3: frame[0] = 0x33; frame[1] = 0x33; break;                   // IPv6 multicast
            default: break;                                                    // anyone (random)
        }
    }

    /// <summary>Writes plausible L2/L3/L4 headers with random lies in them; returns where L3 starts.</summary>
    private int Headers(Span<byte> frame)
    {
        var r = random;
        int at = 12;
        if (r.OneIn(6) && frame.Length >= at + 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[at..], r.OneIn(8) ? (ushort)0x88A8 : (ushort)0x8100);
            at += 4;
        }
        if (frame.Length < at + 2) return at;
        switch (r.Below(10))
        {
            case < 5: BinaryPrimitives.WriteUInt16BigEndian(frame[at..], 0x0800); Ipv4(frame[(at + 2)..]); break;
            case < 7: BinaryPrimitives.WriteUInt16BigEndian(frame[at..], 0x86DD); Ipv6(frame[(at + 2)..]); break;
            case 7: BinaryPrimitives.WriteUInt16BigEndian(frame[at..], 0x0806); break;
            default: break;
        }
        return at + 2;
    }

    private void Ipv4(Span<byte> l3)
    {
        if (l3.Length < 20) return;
        var r = random;
        int ihl = r.OneIn(8) ? r.Below(16) : 5;
        l3[0] = (byte)(0x40 | ihl);
        ushort total = r.OneIn(4) ? (ushort)r.NextUInt32() : (ushort)Math.Min(l3.Length, 0xFFFF);
        BinaryPrimitives.WriteUInt16BigEndian(l3[2..], total);
        if (!r.OneIn(4)) l3[6] = l3[7] = 0;                 // no fragmentation, mostly
        l3[9] = r.Below(4) switch { 0 => 6, 1 => 17, 2 => 1, _ => l3[9] };
        Transport(l3[Math.Min(l3.Length, ihl * 4)..], l3[9]);
    }

    private void Ipv6(Span<byte> l3)
    {
        if (l3.Length < 40) return;
        var r = random;
        l3[0] = 0x60;
        ushort payload = r.OneIn(4) ? (ushort)r.NextUInt32() : (ushort)Math.Min(l3.Length - 40, 0xFFFF);
        BinaryPrimitives.WriteUInt16BigEndian(l3[4..], payload);
        l3[6] = r.Below(4) switch { 0 => 6, 1 => 17, 2 => 0, _ => l3[6] };   // 0: hop-by-hop extension header
        Transport(l3[40..], l3[6]);
    }

    private void Transport(Span<byte> l4, byte protocol)
    {
        if (protocol == 6 && l4.Length >= 20) l4[12] = (byte)((random.OneIn(8) ? random.Below(16) : 5) << 4);   // TCP data offset
        if (protocol == 17 && l4.Length >= 8 && !random.OneIn(4)) BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)Math.Min(l4.Length, 0xFFFF));
    }

    /// <summary>
    /// An offload as a tap delivers it (Polynic.Ports' virtio-net header checks): a partial checksum
    /// whose field lies in the frame behind the Ethernet header; GSO with a segment size, on a frame
    /// longer than an Ethernet header; hdr_len no longer than the frame.
    /// </summary>
    private FrameOffload? Offload(PortCapabilities accepted, int length, int l3)
    {
        var r = random;
        bool checksum = (accepted & PortCapabilities.Checksum) != 0 && r.Coin();
        var gso = (accepted & PortCapabilities.Segmentation) != 0 && length > EthernetHeader && r.Coin()
            ? (r.Coin() ? GsoType.TcpV4 : GsoType.TcpV6) : GsoType.None;
        ushort start = 0, offset = 0;
        if (checksum)
        {
            start = (ushort)r.Pick<int>([EthernetHeader, l3, l3 + 20, l3 + 40, r.Between(EthernetHeader, length)]);
            offset = (ushort)r.Pick<int>([6, 16, 0, r.Below(64)]);
            if (start < EthernetHeader || start + offset + 2 > length) checksum = false;
        }
        if (!checksum) start = offset = 0;
        ushort segment = gso == GsoType.None ? (ushort)0 : (ushort)r.Pick<int>([1, 8, 536, 1448, 1460, 9000, r.Between(1, 0xFFFF)]);
        ushort header = gso == GsoType.None ? (ushort)0 : (ushort)r.Below(Math.Min(length, 256) + 1);
        if (!checksum && gso == GsoType.None && !r.Coin()) return null;
        return new FrameOffload(checksum, start, offset, gso, header, segment) { DataValid = r.OneIn(3) };
    }
}
