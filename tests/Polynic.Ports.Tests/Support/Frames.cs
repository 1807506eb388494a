using System.Buffers.Binary;

namespace Polynic.Ports.Tests.Support;

/// <summary>Hand-built Ethernet frames (ARP, IPv4 ICMP/TCP, IPv6 TCP) and the checks tests need.</summary>
internal static class Frames
{
    public static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    public const ushort Arp = 0x0806;
    public const ushort IPv4 = 0x0800;
    public const ushort IPv6 = 0x86DD;
    public const byte TcpFin = 0x01, TcpSyn = 0x02, TcpRst = 0x04, TcpPsh = 0x08, TcpAck = 0x10;

    public static byte[] Ethernet(byte[] destination, byte[] source, ushort type, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[14 + payload.Length];
        destination.CopyTo(frame, 0);
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), type);
        payload.CopyTo(frame.AsSpan(14));
        return frame;
    }

    public static byte[] ArpRequest(byte[] senderMac, byte[] senderIp, byte[] targetIp) =>
        Ethernet(Broadcast, senderMac, Arp, ArpBody(1, senderMac, senderIp, new byte[6], targetIp));

    public static byte[] ArpReply(byte[] senderMac, byte[] senderIp, byte[] targetMac, byte[] targetIp) =>
        Ethernet(targetMac, senderMac, Arp, ArpBody(2, senderMac, senderIp, targetMac, targetIp));

    private static byte[] ArpBody(ushort operation, byte[] senderMac, byte[] senderIp, byte[] targetMac, byte[] targetIp)
    {
        // RFC 826 for Ethernet/IPv4: htype 1, ptype 0x0800, hlen 6, plen 4.
        var body = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(body, 1);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), IPv4);
        body[4] = 6;
        body[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(6), operation);
        senderMac.CopyTo(body, 8);
        senderIp.CopyTo(body, 14);
        targetMac.CopyTo(body, 18);
        targetIp.CopyTo(body, 24);
        return body;
    }

    public static ushort EtherType(byte[] frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));

    public static bool IsArp(byte[] frame, ushort operation) =>
        frame.Length >= 42 && EtherType(frame) == Arp && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)) == operation;

    public static bool IsArpRequestFor(byte[] frame, byte[] ip) => IsArp(frame, 1) && frame.AsSpan(38, 4).SequenceEqual(ip);

    public static bool IsArpReplyFrom(byte[] frame, byte[] ip) => IsArp(frame, 2) && frame.AsSpan(28, 4).SequenceEqual(ip);

    /// <summary>IPv4 header (RFC 791) with a valid header checksum, then <paramref name="payload"/>.</summary>
    public static byte[] IPv4Packet(byte[] source, byte[] destination, byte protocol, ReadOnlySpan<byte> payload, ushort id = 1)
    {
        var packet = new byte[20 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), id);
        packet[6] = 0x40; // don't fragment
        packet[8] = 64;
        packet[9] = protocol;
        source.CopyTo(packet, 12);
        destination.CopyTo(packet, 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum(packet.AsSpan(0, 20)));
        payload.CopyTo(packet.AsSpan(20));
        return packet;
    }

    public static byte[] IcmpEchoRequest(byte[] sourceMac, byte[] destinationMac, byte[] sourceIp, byte[] destinationIp,
        ushort identifier, ushort sequence, ReadOnlySpan<byte> data)
    {
        var icmp = new byte[8 + data.Length];
        icmp[0] = 8; // echo request (RFC 792)
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), sequence);
        data.CopyTo(icmp.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum(icmp));
        return Ethernet(destinationMac, sourceMac, IPv4, IPv4Packet(sourceIp, destinationIp, 1, icmp));
    }

    public static bool IsIcmpEchoReply(byte[] frame, byte[] fromIp, ushort identifier, ushort sequence) =>
        frame.Length >= 42 && EtherType(frame) == IPv4 && frame[23] == 1 && frame.AsSpan(26, 4).SequenceEqual(fromIp)
        && frame[34] == 0 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(38)) == identifier
        && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(40)) == sequence;

    /// <summary>How the TCP checksum field is filled.</summary>
    public enum TcpChecksum { Full, PseudoHeaderOnly }

    /// <summary>
    /// An Ethernet/IPv4/TCP frame (20-byte TCP header). PseudoHeaderOnly leaves in the checksum field
    /// what a driver hands a NIC for checksum offload: the folded pseudo-header sum, not complemented
    /// (virtio 5.1.6.2, Linux CHECKSUM_PARTIAL).
    /// </summary>
    public static byte[] TcpV4(byte[] sourceMac, byte[] destinationMac, byte[] sourceIp, byte[] destinationIp,
        ushort sourcePort, ushort destinationPort, uint sequence, uint acknowledgment, byte flags,
        ReadOnlySpan<byte> payload, TcpChecksum checksum)
    {
        var tcp = TcpSegment(sourcePort, destinationPort, sequence, acknowledgment, flags, payload);
        ulong pseudo = Sum(sourceIp) + Sum(destinationIp) + 6 + (ulong)tcp.Length;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), checksum == TcpChecksum.Full
            ? (ushort)~Fold(pseudo + Sum(tcp))
            : Fold(pseudo));
        return Ethernet(destinationMac, sourceMac, IPv4, IPv4Packet(sourceIp, destinationIp, 6, tcp));
    }

    public static byte[] TcpV6(byte[] sourceMac, byte[] destinationMac, byte[] sourceIp, byte[] destinationIp,
        ushort sourcePort, ushort destinationPort, uint sequence, byte flags, ReadOnlySpan<byte> payload)
    {
        var tcp = TcpSegment(sourcePort, destinationPort, sequence, 0, flags, payload);
        var packet = new byte[40 + tcp.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)tcp.Length);
        packet[6] = 6;
        packet[7] = 64;
        sourceIp.CopyTo(packet, 8);
        destinationIp.CopyTo(packet, 24);
        tcp.CopyTo(packet, 40);
        return Ethernet(destinationMac, sourceMac, IPv6, packet);
    }

    private static byte[] TcpSegment(ushort sourcePort, ushort destinationPort, uint sequence, uint acknowledgment,
        byte flags, ReadOnlySpan<byte> payload)
    {
        var tcp = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), acknowledgment);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 64240);
        payload.CopyTo(tcp.AsSpan(20));
        return tcp;
    }

    /// <summary>A TCPv4 frame from <paramref name="fromIp"/> with the given flags and acknowledgment number.</summary>
    public static bool IsTcpV4(byte[] frame, byte[] fromIp, ushort fromPort, byte flags, uint acknowledgment) =>
        frame.Length >= 54 && EtherType(frame) == IPv4 && frame[23] == 6 && frame.AsSpan(26, 4).SequenceEqual(fromIp)
        && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34)) == fromPort && frame[47] == flags
        && BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(42)) == acknowledgment;

    /// <summary>True if the IPv4 header checksum and the TCP checksum (with pseudo-header) of a frame verify.</summary>
    public static bool TcpV4ChecksumsValid(byte[] frame)
    {
        var ip = frame.AsSpan(14, (frame[14] & 0xF) * 4);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var tcp = frame.AsSpan(14 + ip.Length, total - ip.Length);
        ulong pseudo = Sum(ip.Slice(12, 8)) + 6 + (ulong)tcp.Length;
        return Fold(Sum(ip)) == 0xFFFF && Fold(pseudo + Sum(tcp)) == 0xFFFF;
    }

    public static bool TcpV6ChecksumValid(byte[] frame)
    {
        var ip = frame.AsSpan(14, 40);
        var tcp = frame.AsSpan(54, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        ulong pseudo = Sum(ip.Slice(8, 32)) + 6 + (ulong)tcp.Length;
        return Fold(pseudo + Sum(tcp)) == 0xFFFF;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data) => (ushort)~Fold(Sum(data));

    public static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (int i = 0; i < data.Length; i += 2)
            sum += (ulong)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
        return sum;
    }

    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
