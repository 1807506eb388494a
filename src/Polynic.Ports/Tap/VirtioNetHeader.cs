using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Ports.Tap;

/// <summary>
/// struct virtio_net_hdr_v1 (virtio 1.2, 5.1.6 "Device Operation"): the 12-byte header the tap
/// carries in front of each frame when IFF_VNET_HDR is set and TUNSETVNETHDRSZ is 12. Fields are
/// little-endian (the port asks for that with TUNSETVNETLE).
/// </summary>
internal static class VirtioNetHeader
{
    /// <summary>Size of virtio_net_hdr_v1, including num_buffers.</summary>
    public const int Size = 12;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/csum_offset describe a partial checksum.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksums were verified (device to driver only).</summary>
    public const byte FlagDataValid = 2;

    /// <summary>The smallest frame: an Ethernet header.</summary>
    private const int EthernetHeaderLength = 14;

    /// <summary>
    /// Reads the header the kernel put in front of a received frame of <paramref name="frameLength"/>
    /// bytes (tun_put_user fills it with virtio_net_hdr_from_skb). The kernel is trusted no more
    /// than a socket: every field is checked against the frame, and what the port never asked for
    /// (UDP GSO, the ECN bit: TUN_F_USO*, TUN_F_TSO_ECN are not set) is refused.
    /// </summary>
    /// <returns>False if the header does not describe this frame; the caller drops and counts it.</returns>
    public static bool TryRead(ReadOnlySpan<byte> header, int frameLength, out FrameOffload offload)
    {
        offload = default;
        if (header.Length < Size) return false;
        byte flags = header[0];
        byte gso = header[1];
        ushort headerLength = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        ushort segmentSize = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        ushort checksumStart = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        ushort checksumOffset = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        bool needsChecksum = (flags & FlagNeedsChecksum) != 0;

        // csum_start + csum_offset + 2 bytes must lie in the frame, behind the Ethernet header.
        if (needsChecksum && (checksumStart < EthernetHeaderLength || checksumStart + checksumOffset + 2 > frameLength))
            return false;
        // hdr_len is skb_headlen() for tun (a hint, 5.1.6.2), but never beyond the frame.
        if (headerLength > frameLength) return false;
        var type = (GsoType)gso;
        if (type is not (GsoType.None or GsoType.TcpV4 or GsoType.TcpV6)) return false;
        // A GSO frame has a segment size, and its payload is behind at least an Ethernet header.
        if (type != GsoType.None && (segmentSize == 0 || frameLength <= EthernetHeaderLength)) return false;

        offload = new FrameOffload(needsChecksum, needsChecksum ? checksumStart : (ushort)0, needsChecksum ? checksumOffset : (ushort)0,
            type, type != GsoType.None ? headerLength : (ushort)0, type != GsoType.None ? segmentSize : (ushort)0)
        {
            DataValid = (flags & FlagDataValid) != 0,
        };
        return true;
    }

    /// <summary>Writes the header describing <paramref name="offload"/> into <paramref name="header"/>.</summary>
    public static void Write(Span<byte> header, in FrameOffload offload)
    {
        header[0] = offload.NeedsChecksum ? FlagNeedsChecksum : (byte)0;
        // GsoType's values are the spec's gso_type values (VIRTIO_NET_HDR_GSO_*).
        header[1] = (byte)offload.GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], offload.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], offload.SegmentSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], offload.ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], offload.ChecksumOffset);
        // num_buffers is only meaningful device-to-driver with VIRTIO_NET_F_MRG_RXBUF.
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0);
    }
}
