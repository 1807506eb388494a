using System.Buffers.Binary;

namespace Polynic.Ports.Sockets;

/// <summary>
/// The framing of QEMU's <c>-netdev stream</c> (and of the older <c>-netdev socket</c>): every
/// frame travels as a 4-byte big-endian length followed by that many bytes of Ethernet frame,
/// destination MAC first, no FCS, no virtio-net header (net/stream_data.c writes htonl(size)
/// then the frame; net/net.c net_fill_rstate reassembles them).
/// </summary>
public static class QemuStreamFraming
{
    /// <summary>Bytes of the length prefix.</summary>
    public const int HeaderLength = 4;

    /// <summary>
    /// The longest frame QEMU accepts: NET_BUFSIZE (4096 + 65536 bytes, include/net/net.h). A longer
    /// length makes QEMU drop the connection ("oversized packet received"), so the port refuses to
    /// send one and treats one received as a protocol error.
    /// </summary>
    public const int MaxFrameLength = 4096 + 65536;

    /// <summary>Writes the length prefix for a frame of <paramref name="frameLength"/> bytes.</summary>
    public static void WriteHeader(Span<byte> header, int frameLength) =>
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)frameLength);
}
