namespace Polynic.Ports.Sockets;

/// <summary>What happened to a frame handed to <see cref="StreamSendQueue.Send"/>.</summary>
internal enum StreamSendResult
{
    /// <summary>Written to the socket whole.</summary>
    Sent,
    /// <summary>The socket took part or none of it; the rest waits in the backlog, which was empty before.</summary>
    QueuedFirst,
    /// <summary>Appended behind an earlier backlog.</summary>
    Queued,
    /// <summary>The backlog has no room for the frame: dropped.</summary>
    Full,
    /// <summary>The socket failed (peer gone); the receive side will notice and disconnect.</summary>
    Failed,
}

/// <summary>
/// Sends framed frames on a stream socket without ever blocking. A frame goes straight to the
/// socket with one sendmsg (length prefix and frame gathered, so no copy) while nothing is
/// waiting; whatever the socket does not take is kept in a fixed-size ring, which the I/O thread
/// flushes when the socket becomes writable. The ring only ever holds whole frames (plus the rest
/// of one partly written), so the byte stream the peer sees is never torn; a frame that does not
/// fit is dropped whole. Not thread-safe: the port serialises callers with its send lock.
/// </summary>
internal sealed class StreamSendQueue
{
    private readonly byte[] _ring;
    private int _head;
    private int _count;

    /// <summary>Creates a queue whose backlog holds <paramref name="capacity"/> bytes.</summary>
    public StreamSendQueue(int capacity) => _ring = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);

    /// <summary>Bytes waiting for the socket.</summary>
    public int Backlog => _count;

    /// <summary>Frames and the framing of a new connection start from nothing.</summary>
    public void Reset() => _head = _count = 0;

    /// <summary>Sends or queues one frame with its length prefix on socket <paramref name="fd"/>.</summary>
    public StreamSendResult Send(int fd, ReadOnlySpan<byte> frame, out int errno)
    {
        errno = 0;
        Span<byte> header = stackalloc byte[QemuStreamFraming.HeaderLength];
        QemuStreamFraming.WriteHeader(header, frame.Length);
        int total = header.Length + frame.Length;

        if (_count > 0)
        {
            if (_ring.Length - _count < total) return StreamSendResult.Full;
            Append(header);
            Append(frame);
            return StreamSendResult.Queued;
        }

        nint sent = SocketCalls.SendGather(fd, header, frame);
        if (sent < 0)
        {
            if (-sent != SocketCalls.EAGAIN)
            {
                errno = (int)-sent;
                return StreamSendResult.Failed;
            }
            sent = 0;
        }
        if (sent == total) return StreamSendResult.Sent;

        // The capacity is at least one whole framed frame (StreamPortOptions), so the rest fits.
        int done = (int)sent;
        if (done < header.Length)
        {
            Append(header[done..]);
            Append(frame);
        }
        else
        {
            Append(frame[(done - header.Length)..]);
        }
        return StreamSendResult.QueuedFirst;
    }

    /// <summary>
    /// Writes as much of the backlog as the socket takes. Returns 0 (or EAGAIN's absence of
    /// progress, also 0) when fine, otherwise the errno of a failed write.
    /// </summary>
    public int Flush(int fd)
    {
        while (_count > 0)
        {
            int firstLength = Math.Min(_count, _ring.Length - _head);
            var first = _ring.AsSpan(_head, firstLength);
            var second = _ring.AsSpan(0, _count - firstLength);
            nint sent = SocketCalls.SendGather(fd, first, second);
            if (sent < 0) return -sent == SocketCalls.EAGAIN ? 0 : (int)-sent;
            _head = (_head + (int)sent) % _ring.Length;
            _count -= (int)sent;
            if (_count == 0) _head = 0;
        }
        return 0;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        int tail = (_head + _count) % _ring.Length;
        int firstLength = Math.Min(data.Length, _ring.Length - tail);
        data[..firstLength].CopyTo(_ring.AsSpan(tail));
        data[firstLength..].CopyTo(_ring);
        _count += data.Length;
    }
}
