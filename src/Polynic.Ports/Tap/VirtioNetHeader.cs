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
