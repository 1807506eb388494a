using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Ports.Offload;

/// <summary>Receives one finished frame from <see cref="SoftwareOffload.Segment"/>; false stops segmentation.</summary>
internal delegate bool SegmentSink(ReadOnlySpan<byte> segment);

/// <summary>
/// Does in software what a port's peer would do for a <see cref="FrameOffload"/>: completes a
/// partial checksum, or cuts a TCP (IPv4/IPv6) frame into segments (virtio 1.2, 5.1.6.2; the
/// Linux equivalents are skb_checksum_help and tcp_gso_segment). For ports whose peer cannot
/// take offloaded frames, e.g. the in-memory loopback.
/// </summary>
internal static class SoftwareOffload
{
    private const int EthernetHeaderLength = 14;
    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort EtherTypeIPv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const byte ProtocolTcp = 6;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    /// <summary>
    /// Finishes a partial checksum in place. The checksum field already holds the pseudo-header
    /// sum; the device sums from <paramref name="start"/> to the end and stores the complement at
    /// start + <paramref name="offset"/> (virtio 5.1.6.2). A result of 0 is stored as 0xFFFF, as
    /// Linux does (CSUM_MANGLED_0), so that UDP does not read it as "no checksum".
    /// </summary>
    /// <returns>False if the checksum field lies outside the frame.</returns>
    public static bool CompleteChecksum(Span<byte> frame, ushort start, ushort offset)
    {
        if (start + offset + 2 > frame.Length) return false;
        ushort checksum = InternetChecksum.Complete(InternetChecksum.Add(0, frame[start..]));
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return true;
    }

    /// <summary>Bytes of scratch space <see cref="Segment"/> needs for <paramref name="frame"/>.</summary>
    public static int ScratchLength(ReadOnlySpan<byte> frame, in FrameOffload offload) =>
        Math.Min(frame.Length, HeaderLengthLimit + offload.SegmentSize);

    // Ethernet + VLAN + IPv6 + largest TCP header; an IPv4 header is smaller still.
    private const int HeaderLengthLimit = EthernetHeaderLength + 4 + 40 + 60;

    /// <summary>
    /// Cuts a TCPv4/TCPv6 frame into frames with at most <see cref="FrameOffload.SegmentSize"/>
    /// payload bytes each and hands them to <paramref name="sink"/>. Headers are taken from the
    /// frame itself (hdr_len is only a hint, virtio 5.1.6.2); every segment gets a fresh IPv4
    /// total length, identification and header checksum (or IPv6 payload length), its sequence
    /// number, FIN/PSH only on the last and CWR only on the first segment, and a full TCP checksum.
    /// </summary>
    /// <returns>False if the frame is not a TCP frame this code can segment, or the sink refused one.</returns>
    public static bool Segment(ReadOnlySpan<byte> frame, in FrameOffload offload, Span<byte> scratch, SegmentSink sink)
    {
        if (!TryParse(frame, offload.GsoType, out int network, out int transport, out int headers)) return false;
        int segmentSize = offload.SegmentSize;
        if (segmentSize == 0 || scratch.Length < Math.Min(frame.Length, headers + segmentSize)) return false;

        bool ipv4 = offload.GsoType == GsoType.TcpV4;
        int payload = frame.Length - headers;
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(frame[(transport + 4)..]);
        ushort identification = ipv4 ? BinaryPrimitives.ReadUInt16BigEndian(frame[(network + 4)..]) : (ushort)0;

        int index = 0;
        for (int offset = 0; offset < payload || (payload == 0 && index == 0); offset += segmentSize, index++)
        {
            int length = Math.Min(segmentSize, payload - offset);
            var segment = scratch[..(headers + length)];
            frame[..headers].CopyTo(segment);
            frame.Slice(headers + offset, length).CopyTo(segment[headers..]);

            int transportLength = segment.Length - transport;
            if (ipv4) FixIPv4(segment[network..transport], transportLength, (ushort)(identification + index));
            else BinaryPrimitives.WriteUInt16BigEndian(segment[(network + 4)..], (ushort)transportLength);

            var tcp = segment[transport..];
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence + (uint)offset);
            bool last = offset + length >= payload;
            if (!last) tcp[13] &= unchecked((byte)~(TcpFin | TcpPsh));
            if (index > 0) tcp[13] &= unchecked((byte)~TcpCwr);
            WriteTcpChecksum(segment[network..transport], tcp, ipv4);

            if (!sink(segment)) return false;
        }
        return true;
    }

    private static bool TryParse(ReadOnlySpan<byte> frame, GsoType type, out int network, out int transport, out int headers)
    {
        network = transport = headers = 0;
        if (frame.Length < EthernetHeaderLength) return false;
        network = EthernetHeaderLength;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (etherType == EtherTypeVlan)
        {
            if (frame.Length < EthernetHeaderLength + 4) return false;
            network += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
        }

        switch (type)
        {
            case GsoType.TcpV4 when etherType == EtherTypeIPv4 && frame.Length >= network + 20:
                int ihl = (frame[network] & 0x0F) * 4;
                if (ihl < 20 || frame[network + 9] != ProtocolTcp) return false;
                transport = network + ihl;
                break;
            // Extension headers are not walked; a TSO frame from a NIC driver has none.
            case GsoType.TcpV6 when etherType == EtherTypeIPv6 && frame.Length >= network + 40:
                if (frame[network + 6] != ProtocolTcp) return false;
                transport = network + 40;
                break;
            default:
                return false;
        }
        if (frame.Length < transport + 20) return false;
        headers = transport + (frame[transport + 12] >> 4) * 4;
        return headers >= transport + 20 && headers <= frame.Length;
    }

    private static void FixIPv4(Span<byte> ip, int transportLength, ushort identification)
    {
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ip.Length + transportLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Complete(InternetChecksum.Add(0, ip)));
    }

    private static void WriteTcpChecksum(ReadOnlySpan<byte> ip, Span<byte> tcp, bool ipv4)
    {
        // Pseudo-header: RFC 793 (IPv4) / RFC 8200 section 8.1 (IPv6).
        ulong sum = ipv4 ? InternetChecksum.Add(0, ip.Slice(12, 8)) : InternetChecksum.Add(0, ip.Slice(8, 32));
        sum += ProtocolTcp + (ulong)tcp.Length;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        sum = InternetChecksum.Add(sum, tcp);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Complete(sum));
    }
}
