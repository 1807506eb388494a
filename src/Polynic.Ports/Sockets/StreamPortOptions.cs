using System.Net;
using System.Net.Sockets;

namespace Polynic.Ports.Sockets;

/// <summary>
/// How <see cref="StreamPort.Open"/> sets up a port speaking QEMU's <c>-netdev stream</c>
/// (qapi/net.json NetdevStreamOptions): a TCP or UNIX stream socket carrying length-prefixed frames.
/// </summary>
public sealed record StreamPortOptions
{
    /// <summary>
    /// Where to listen (<see cref="Server"/>) or connect: an <see cref="IPEndPoint"/> (IPv4 or IPv6;
    /// port 0 lets a server pick one, see <see cref="StreamPort.LocalEndPoint"/>) or a
    /// <see cref="UnixDomainSocketEndPoint"/> (a path, or an abstract name starting with '\0').
    /// </summary>
    public required EndPoint Address { get; init; }

    /// <summary>
    /// Listen and accept one peer at a time, accepting the next when it leaves (QEMU's server=on);
    /// false: connect to <see cref="Address"/> (QEMU's server=off, the default there).
    /// </summary>
    public bool Server { get; init; }

    /// <summary>
    /// Client only: after a failed connect or a lost connection, try again after this long (QEMU's
    /// reconnect-ms). Zero: one attempt; once it fails or the peer leaves, the link stays down.
    /// </summary>
    public TimeSpan Reconnect { get; init; }

    /// <summary>
    /// Bytes of framed frames kept when the socket cannot take more (a slow or stalled peer); a
    /// frame that does not fit is dropped and counted. At least one largest frame plus its prefix.
    /// </summary>
    public int SendBacklogBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// Longest frame accepted in either direction. A peer announcing a longer one is cut off as
    /// hostile. Defaults to QEMU's own limit, <see cref="QemuStreamFraming.MaxFrameLength"/>.
    /// </summary>
    public int MaxFrameLength { get; init; } = QemuStreamFraming.MaxFrameLength;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Address, nameof(Address));
        if (Address is not (IPEndPoint or UnixDomainSocketEndPoint))
            throw new ArgumentException($"Address must be an IPEndPoint or a UnixDomainSocketEndPoint, not {Address.GetType().Name}.", nameof(Address));
        if (Address is IPEndPoint { Port: 0 } && !Server)
            throw new ArgumentException("A client needs the server's port (port 0 only makes sense for a server).", nameof(Address));
        if (Reconnect < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Reconnect), Reconnect, "Reconnect must not be negative.");
        if (Server && Reconnect != TimeSpan.Zero)
            throw new ArgumentException("Reconnect is for clients; a server simply accepts the next peer (QEMU rejects reconnect with server=on too).", nameof(Reconnect));
        if (MaxFrameLength is < 14 or > QemuStreamFraming.MaxFrameLength)
            throw new ArgumentOutOfRangeException(nameof(MaxFrameLength), MaxFrameLength,
                $"MaxFrameLength must be between 14 and {QemuStreamFraming.MaxFrameLength} (QEMU's NET_BUFSIZE).");
        if (SendBacklogBytes < QemuStreamFraming.HeaderLength + MaxFrameLength)
            throw new ArgumentOutOfRangeException(nameof(SendBacklogBytes), SendBacklogBytes,
                "SendBacklogBytes must hold at least one largest frame with its 4-byte length prefix.");
    }
}
