using System.Buffers;
using Polynic.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// One complete message as read from the socket: header, bytes (header included) and the
/// descriptors that came with it. <see cref="Pooled"/> buffers belong to the array pool; the
/// others are the session's own receive buffer, valid until the next read.
/// </summary>
internal readonly struct ReceivedMessage(MessageHeader header, byte[] buffer, bool pooled, int[] fds, int fdCount, int droppedFds)
{
    public MessageHeader Header { get; } = header;

    /// <summary>The whole message, header included.</summary>
    public ReadOnlySpan<byte> Bytes => buffer.AsSpan(0, (int)Header.MessageSize);

    /// <summary>The part after the header.</summary>
    public ReadOnlySpan<byte> Payload => buffer.AsSpan(MessageHeader.Size, (int)Header.MessageSize - MessageHeader.Size);

    /// <summary>Descriptors received with the message (owned by whoever handles it).</summary>
    public ReadOnlySpan<int> Fds => fds.AsSpan(0, fdCount);

    /// <summary>Descriptors that arrived beyond what could be kept; they were closed on receipt.</summary>
    public int DroppedFds { get; } = droppedFds;

    public bool Pooled { get; } = pooled;

    /// <summary>Closes the descriptors nobody took.</summary>
    public void CloseFds()
    {
        foreach (int fd in Fds) LibC.close(fd);
    }

    /// <summary>Returns a pooled buffer.</summary>
    public void ReturnBuffer()
    {
        if (Pooled) ArrayPool<byte>.Shared.Return(buffer);
    }
}
