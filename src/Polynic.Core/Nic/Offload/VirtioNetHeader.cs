using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>
/// struct virtio_net_hdr_v1 (virtio 1.2, 5.1.6 "Device Operation"), the wire form of a
/// <see cref="FrameOffload"/>: the 12 bytes in front of every frame of a virtio-net device once
/// VERSION_1 is negotiated, and of a tap with IFF_VNET_HDR and TUNSETVNETHDRSZ 12. Fields are
/// little-endian (VERSION_1; a tap is asked for that with TUNSETVNETLE).
/// </summary>
public static class VirtioNetHeader
{
    /// <summary>Size of virtio_net_hdr_v1, num_buffers included.</summary>
    public const int Length = 12;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/csum_offset describe a partial checksum.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksums were verified (device to driver only).</summary>
    public const byte FlagDataValid = 2;

    /// <summary>The smallest frame: an Ethernet header.</summary>
    private const int EthernetHeaderLength = 14;

    /// <summary>
    /// Reads the header in front of a frame of <paramref name="frameLength"/> bytes: from a tap
    /// (tun_put_user fills it with virtio_net_hdr_from_skb) or from a virtio-net driver's transmit
    /// chain (5.1.6.2). Neither is trusted: every field is checked against the frame, and what
    /// Polynic never negotiates (UFO, UDP GSO, the ECN bit: no TUN_F_USO*/TUN_F_TSO_ECN, no
    /// HOST_UFO/HOST_USO/HOST_ECN) is refused. Fields that the flags or gso_type leave unused read as 0.
    /// </summary>
    /// <returns>False if the header does not describe this frame; the caller drops and counts it.</returns>
    public static bool TryRead(ReadOnlySpan<byte> header, int frameLength, out FrameOffload offload)
    {
        offload = default;
        if (header.Length < Length) return false;
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
        // hdr_len is skb_headlen() for tun and virtio_net (a hint, 5.1.6.2), but never beyond the frame.
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

    /// <summary>
    /// Writes the header describing <paramref name="offload"/>, with <paramref name="buffers"/> as
    /// num_buffers (meaningful only device-to-driver with VIRTIO_NET_F_MRG_RXBUF; 0 otherwise).
    /// NEEDS_CSUM and DATA_VALID are never set together (5.1.6.4.1: DATA_VALID is for a checksum
    /// that was verified, NEEDS_CSUM for one nobody computed yet); fields the offload does not use are 0.
    /// </summary>
    public static void Write(Span<byte> header, in FrameOffload offload, ushort buffers = 0)
    {
        header[..Length].Clear();
        if (offload.NeedsChecksum)
        {
            header[0] = FlagNeedsChecksum;
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], offload.ChecksumStart);
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], offload.ChecksumOffset);
        }
        else if (offload.DataValid) header[0] = FlagDataValid;
        if (offload.GsoType != GsoType.None)
        {
            // GsoType's values are the spec's gso_type values (VIRTIO_NET_HDR_GSO_*).
            header[1] = (byte)offload.GsoType;
            BinaryPrimitives.WriteUInt16LittleEndian(header[2..], offload.HeaderLength);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], offload.SegmentSize);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], buffers);
    }
}
