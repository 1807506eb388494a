using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// struct virtio_net_hdr with num_buffers (virtio 1.2, 5.1.6): 12 bytes in front of every frame
/// once VERSION_1 is negotiated, whether or not MRG_RXBUF is.
/// </summary>
internal static class NetHeader
{
    public const int Length = 12;
    public const byte FlagNeedsCsum = 1;
    public const byte FlagDataValid = 2;
    public const byte GsoEcn = 0x80;

    /// <summary>The offload a transmitted header asks for; false if the gso_type is unknown.</summary>
    public static bool TryParse(ReadOnlySpan<byte> header, out FrameOffload offload)
    {
        byte flags = header[0];
        byte gso = (byte)(header[1] & ~GsoEcn);
        offload = new FrameOffload(
            NeedsChecksum: (flags & FlagNeedsCsum) != 0,
            ChecksumStart: BinaryPrimitives.ReadUInt16LittleEndian(header[6..]),
            ChecksumOffset: BinaryPrimitives.ReadUInt16LittleEndian(header[8..]),
            GsoType: (GsoType)gso,
            HeaderLength: BinaryPrimitives.ReadUInt16LittleEndian(header[2..]),
            SegmentSize: BinaryPrimitives.ReadUInt16LittleEndian(header[4..]));
        return gso is 0 or 1 or 4;
    }

    /// <summary>
    /// The header of a received frame (5.1.6.4): <paramref name="offload"/> as the device passes it
    /// on (the caller has already reduced it to what the driver negotiated), <paramref name="buffers"/>
    /// buffers used. NEEDS_CSUM and DATA_VALID are never set together (5.1.6.4.1: DATA_VALID is for
    /// a checksum the device verified, NEEDS_CSUM for one nobody computed yet).
    /// </summary>
    public static void WriteReceived(Span<byte> header, ushort buffers, in FrameOffload offload)
    {
        header[..Length].Clear();
        if (offload.NeedsChecksum)
        {
            header[0] = FlagNeedsCsum;
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], offload.ChecksumStart);
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], offload.ChecksumOffset);
        }
        else if (offload.DataValid) header[0] = FlagDataValid;
        if (offload.GsoType != GsoType.None)
        {
            // GsoType's values are the spec's VIRTIO_NET_HDR_GSO_* values.
            header[1] = (byte)offload.GsoType;
            BinaryPrimitives.WriteUInt16LittleEndian(header[2..], offload.HeaderLength);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], offload.SegmentSize);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], buffers);
    }
}
