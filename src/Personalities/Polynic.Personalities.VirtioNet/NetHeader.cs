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

    /// <summary>The header of a received complete frame: no offload pending, <paramref name="buffers"/> buffers used.</summary>
    public static void WriteReceived(Span<byte> header, ushort buffers, bool dataValid)
    {
        header[..Length].Clear();
        if (dataValid) header[0] = FlagDataValid;
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], buffers);
    }
}
