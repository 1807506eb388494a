using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>
/// Hands a NIC driver's TSO packet to a port that segments (<see cref="PortCapabilities.Segmentation"/>)
/// instead of cutting it in the device: the frame is made into what a virtio-net GSO frame must be
/// (virtio 1.2, 5.1.6.2; Linux tcp_gso_segment adjusts each segment from these values).
/// </summary>
/// <remarks>
/// NIC drivers prepare TSO packets for their hardware, not for a host stack: Linux e1000/e1000e/igb
/// (e1000_tso, igb_tso) zero the IPv4 total length and header checksum and seed the TCP checksum
/// with a pseudo-header sum <em>without</em> the length. A GSO frame must carry its real IP
/// lengths, a valid IPv4 header checksum (the receiving stack checks it before segmenting) and the
/// pseudo-header sum including the whole TCP length, partial-checksum style.
/// </remarks>
public static class GsoFrame
{
    /// <summary>
    /// Rewrites the IP length, IPv4 header checksum and TCP checksum seed of <paramref name="frame"/>
    /// in place and describes the remaining work in <paramref name="offload"/>. False, with the frame
    /// unchanged, when the headers do not parse as TCP over IPv4/IPv6, differ from
    /// <paramref name="headerLength"/>, there is no payload, the segment size is 0, a length would
    /// overflow, or the packet would need more than <paramref name="maxSegments"/> segments; the
    /// caller then segments in software (or refuses). Never throws.
    /// </summary>
    public static bool TryPrepareTcp(Span<byte> frame, int headerLength, int segmentSize, out FrameOffload offload,
        int maxSegments = TcpSegmenter.DefaultMaxSegments)
    {
        offload = default;
        if (segmentSize is <= 0 or > ushort.MaxValue || FrameHeaders.TryParse(frame, out var h) != OffloadStatus.Ok || !h.IsTcp
            || h.HeaderLength != headerLength || frame.Length <= headerLength
            || (frame.Length - headerLength + (long)segmentSize - 1) / segmentSize > maxSegments)
            return false;
        int l3 = h.NetworkOffset, l4 = h.TransportOffset;
        if (h.IsIPv4)
        {
            if (frame.Length - l3 > 0xFFFF) return false;
            var ip = frame.Slice(l3, h.NetworkHeaderLength);
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - l3));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        }
        else
        {
            if (frame.Length - l4 > 0xFFFF) return false;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 4)..], (ushort)(frame.Length - l4));
        }
        uint pseudo = h.PseudoHeaderSum(frame, frame.Length - l4);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(l4 + 16)..], InternetChecksum.Fold(pseudo));
        offload = new FrameOffload(
            NeedsChecksum: true, ChecksumStart: (ushort)l4, ChecksumOffset: 16,
            GsoType: h.IsIPv4 ? GsoType.TcpV4 : GsoType.TcpV6, HeaderLength: (ushort)headerLength, SegmentSize: (ushort)segmentSize);
        return true;
    }
}
