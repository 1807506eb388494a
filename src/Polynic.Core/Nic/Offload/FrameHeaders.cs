using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>Outcome of parsing or segmenting a frame; anything but <see cref="Ok"/> is a refusal the caller counts.</summary>
public enum OffloadStatus : byte
{
    /// <summary>The frame was parsed or segmented completely.</summary>
    Ok,
    /// <summary>The frame ends inside a header.</summary>
    TooShort,
    /// <summary>Neither IPv4 nor IPv6 (after at most two VLAN tags).</summary>
    UnsupportedEtherType,
    /// <summary>IP version or header length field is wrong.</summary>
    MalformedIpHeader,
    /// <summary>An IPv4 fragment (MF set or a fragment offset): cannot be segmented.</summary>
    Fragmented,
    /// <summary>Not TCP or UDP directly after the IP header (IPv6 extension headers included).</summary>
    UnsupportedProtocol,
    /// <summary>TCP data offset below 5.</summary>
    MalformedTransportHeader,
    /// <summary>The header length the driver gave differs from the parsed headers.</summary>
    HeaderLengthMismatch,
    /// <summary>Segment size 0 or negative.</summary>
    ZeroSegmentSize,
    /// <summary>The IP datagram (before or after segmentation) would exceed 65535 bytes.</summary>
    TooLong,
    /// <summary>More segments than the caller allows.</summary>
    TooManySegments,
    /// <summary>The destination buffer cannot hold a segment.</summary>
    BufferTooSmall,
    /// <summary>The sink asked to stop.</summary>
    Stopped,
    /// <summary>
    /// A <see cref="Polynic.Core.Nic.GsoType"/> done elsewhere or not at all: none, or UDP
    /// fragmentation offload (UFO cuts IP fragments, not datagrams).
    /// </summary>
    UnsupportedGsoType,
    /// <summary>The frame is not what its <see cref="Polynic.Core.Nic.GsoType"/> says (e.g. TCPv4 on an IPv6 or UDP frame).</summary>
    GsoTypeMismatch,
}

/// <summary>Offsets of the L2, L3 and L4 headers of an Ethernet frame carrying TCP or UDP over IPv4 or IPv6.</summary>
public readonly struct FrameHeaders
{
    /// <summary>TPID of an IEEE 802.1Q tag.</summary>
    public const ushort Tpid8021Q = 0x8100;
    /// <summary>TPID of an IEEE 802.1ad service tag.</summary>
    public const ushort Tpid8021AD = 0x88A8;
    /// <summary>IP protocol number of TCP.</summary>
    public const byte ProtocolTcp = 6;
    /// <summary>IP protocol number of UDP.</summary>
    public const byte ProtocolUdp = 17;

    private FrameHeaders(int l3, bool v4, int l3Length, byte protocol, int l4Length)
    {
        NetworkOffset = l3;
        IsIPv4 = v4;
        NetworkHeaderLength = l3Length;
        Protocol = protocol;
        TransportHeaderLength = l4Length;
    }

    /// <summary>Offset of the IP header (14, or 18/22 behind VLAN tags).</summary>
    public int NetworkOffset { get; }

    /// <summary>IPv4 (else IPv6).</summary>
    public bool IsIPv4 { get; }

    /// <summary>IP header length (IPv4 IHL × 4; IPv6 40).</summary>
    public int NetworkHeaderLength { get; }

    /// <summary><see cref="ProtocolTcp"/> or <see cref="ProtocolUdp"/>.</summary>
    public byte Protocol { get; }

    /// <summary>Offset of the TCP/UDP header.</summary>
    public int TransportOffset => NetworkOffset + NetworkHeaderLength;

    /// <summary>TCP data offset × 4, or 8 for UDP.</summary>
    public int TransportHeaderLength { get; }

    /// <summary>Length of all headers: where the payload starts.</summary>
    public int HeaderLength => TransportOffset + TransportHeaderLength;

    /// <summary>Whether the transport is TCP.</summary>
    public bool IsTcp => Protocol == ProtocolTcp;

    /// <summary>Parses the headers of <paramref name="frame"/>. Never throws; the work is bounded by a fixed header budget.</summary>
    public static OffloadStatus TryParse(ReadOnlySpan<byte> frame, out FrameHeaders headers)
    {
        headers = default;
        int l3 = 12;
        if (frame.Length < l3 + 2) return OffloadStatus.TooShort;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[l3..]);
        // At most two tags (802.1ad outer + 802.1Q inner).
        for (int tags = 0; tags < 2 && type is Tpid8021Q or Tpid8021AD; tags++)
        {
            l3 += 4;
            if (frame.Length < l3 + 2) return OffloadStatus.TooShort;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[l3..]);
        }
        l3 += 2;

        int l3Length;
        byte protocol;
        bool v4;
        if (type == 0x0800)
        {
            v4 = true;
            if (frame.Length < l3 + 20) return OffloadStatus.TooShort;
            if (frame[l3] >> 4 != 4) return OffloadStatus.MalformedIpHeader;
            l3Length = (frame[l3] & 0xF) * 4;
            if (l3Length < 20) return OffloadStatus.MalformedIpHeader;
            if (frame.Length < l3 + l3Length) return OffloadStatus.TooShort;
            // RFC 791: MF flag (0x2000) or a non-zero fragment offset (0x1FFF) makes this a fragment.
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 6)..]) & 0x3FFF) != 0) return OffloadStatus.Fragmented;
            protocol = frame[l3 + 9];
        }
        else if (type == 0x86DD)
        {
            v4 = false;
            l3Length = 40;
            if (frame.Length < l3 + l3Length) return OffloadStatus.TooShort;
            if (frame[l3] >> 4 != 6) return OffloadStatus.MalformedIpHeader;
            protocol = frame[l3 + 6];
        }
        else return OffloadStatus.UnsupportedEtherType;

        int l4 = l3 + l3Length;
        int l4Length;
        if (protocol == ProtocolTcp)
        {
            if (frame.Length < l4 + 20) return OffloadStatus.TooShort;
            l4Length = (frame[l4 + 12] >> 4) * 4;
            if (l4Length < 20) return OffloadStatus.MalformedTransportHeader;
            if (frame.Length < l4 + l4Length) return OffloadStatus.TooShort;
        }
        else if (protocol == ProtocolUdp)
        {
            l4Length = 8;
            if (frame.Length < l4 + l4Length) return OffloadStatus.TooShort;
        }
        else return OffloadStatus.UnsupportedProtocol;

        headers = new FrameHeaders(l3, v4, l3Length, protocol, l4Length);
        return OffloadStatus.Ok;
    }

    /// <summary>Unfolded pseudo-header sum for a transport segment of <paramref name="transportLength"/> bytes in <paramref name="frame"/>.</summary>
    public uint PseudoHeaderSum(ReadOnlySpan<byte> frame, int transportLength)
    {
        var ip = frame[NetworkOffset..];
        return IsIPv4
            ? PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), Protocol, (ushort)transportLength)
            : PseudoHeader.IPv6(ip.Slice(8, 16), ip.Slice(24, 16), Protocol, (uint)transportLength);
    }
}
