using System.Buffers.Binary;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Nic.Rss;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// Receive-side scaling of the 82576 (datasheet 7.1.2.8): with MRQC.MRQE = RSS, the Toeplitz hash
/// (key in RSSRK, byte 0 in bits 7:0 of RSSRK[0]) of the fields MRQC enables — IPv4/IPv6 source and
/// destination, plus TCP or UDP ports — indexes the 128-entry redirection table RETA (one byte per
/// entry, the queue in bits 3:0). Frames RSS does not cover, and every frame without RSS, go to queue 0.
/// </summary>
internal sealed class IgbRss(RegisterFile registers)
{
    // RSS types of the advanced receive write-back (Linux E1000_RXDADV_RSSTYPE_*).
    private const uint TypeIPv4Tcp = 1, TypeIPv4 = 2, TypeIPv6Tcp = 3, TypeIPv6 = 5, TypeIPv4Udp = 7, TypeIPv6Udp = 8;

    private readonly byte[] _key = new byte[40];
    private readonly byte[] _input = new byte[ToeplitzHash.MaxInputLength];

    /// <summary>The queue for <paramref name="frame"/>, its hash and RSS type (0, 0 when RSS does not apply).</summary>
    public int SelectQueue(ReadOnlySpan<byte> frame, out uint hash, out uint type)
    {
        hash = 0;
        type = 0;
        uint mrqc = registers.Get(Mrqc);
        if ((mrqc & MrqcEnableMask) != MrqcEnableRss) return 0;
        int length = Tuple(frame, mrqc, out type);
        if (length == 0) return 0;
        for (int i = 0; i < 10; i++) BinaryPrimitives.WriteUInt32LittleEndian(_key.AsSpan(i * 4), registers.GetElement(Rssrk, i));
        hash = ToeplitzHash.Compute(_key, _input.AsSpan(0, length));
        int entry = (int)(hash & 0x7F);
        return (int)(registers.GetElement(Reta, entry >> 2) >> ((entry & 3) * 8)) & (QueueCount - 1);
    }

    /// <summary>Fills the hash input (addresses, then ports) for the fields MRQC enables; its length, 0 when none apply.</summary>
    private int Tuple(ReadOnlySpan<byte> frame, uint mrqc, out uint type)
    {
        type = 0;
        int l3 = 14;
        if (frame.Length < l3) return 0;
        ushort ethertype = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (ethertype == 0x8100 && frame.Length >= 18)
        {
            ethertype = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = 18;
        }
        var input = _input.AsSpan();
        int addresses, l4;
        byte protocol;
        bool v4;
        if (ethertype == 0x0800 && frame.Length >= l3 + 20 && frame[l3] >> 4 == 4)
        {
            v4 = true;
            int ihl = (frame[l3] & 0xF) * 4;
            if (ihl < 20 || frame.Length < l3 + ihl) return 0;
            frame.Slice(l3 + 12, 8).CopyTo(input);
            addresses = 8;
            protocol = frame[l3 + 9];
            // Fragments carry no ports (RFC 791: MF or a fragment offset).
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 6)..]) & 0x3FFF) != 0) protocol = 0;
            l4 = l3 + ihl;
        }
        else if (ethertype == 0x86DD && frame.Length >= l3 + 40 && frame[l3] >> 4 == 6)
        {
            v4 = false;
            frame.Slice(l3 + 8, 32).CopyTo(input);
            addresses = 32;
            protocol = frame[l3 + 6];   // extension headers are not followed: such frames hash as plain IPv6
            l4 = l3 + 40;
        }
        else return 0;

        bool ports = frame.Length >= l4 + 4;
        uint tcp = v4 ? MrqcRssIPv4Tcp : MrqcRssIPv6Tcp, udp = v4 ? MrqcRssIPv4Udp : MrqcRssIPv6Udp, ip = v4 ? MrqcRssIPv4 : MrqcRssIPv6;
        if (ports && protocol == 6 && (mrqc & tcp) != 0 || ports && protocol == 17 && (mrqc & udp) != 0)
        {
            frame.Slice(l4, 4).CopyTo(input[addresses..]);
            type = protocol == 6 ? (v4 ? TypeIPv4Tcp : TypeIPv6Tcp) : (v4 ? TypeIPv4Udp : TypeIPv6Udp);
            return addresses + 4;
        }
        if ((mrqc & ip) == 0) return 0;
        type = v4 ? TypeIPv4 : TypeIPv6;
        return addresses;
    }
}
