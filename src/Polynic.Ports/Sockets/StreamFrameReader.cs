using System.Buffers.Binary;

namespace Polynic.Ports.Sockets;

/// <summary>What <see cref="StreamFrameReader.TryTake"/> found at the front of the buffered bytes.</summary>
internal enum StreamFrameStatus
{
    /// <summary>Not a whole frame yet: read more.</summary>
    NeedMore,
    /// <summary>A whole frame of acceptable size.</summary>
    Frame,
    /// <summary>A whole frame shorter than an Ethernet header; consumed, to be counted and dropped.</summary>
    Runt,
    /// <summary>The length prefix exceeds the limit: the stream cannot be trusted any more.</summary>
    Oversized,
}

/// <summary>
/// Reassembles length-prefixed frames (<see cref="QemuStreamFraming"/>) from a byte stream in one
/// preallocated buffer. The socket reads straight into <see cref="FreeSpace"/>; whole frames are
/// handed out as slices of the buffer (no copy); a partial frame left at the end is moved to the
/// front by <see cref="Compact"/> before the next read. The buffer holds one maximal frame plus
/// 64 KiB, so a read always has room.
/// </summary>
internal sealed class StreamFrameReader
{
    private const int EthernetHeaderLength = 14;
    private const int ReadRoom = 64 * 1024;

    private readonly byte[] _buffer;
    private readonly int _maxFrameLength;
    private int _start;
    private int _end;

    /// <summary>Creates a reader that accepts frames of at most <paramref name="maxFrameLength"/> bytes.</summary>
    public StreamFrameReader(int maxFrameLength)
    {
        _maxFrameLength = maxFrameLength;
        _buffer = GC.AllocateUninitializedArray<byte>(QemuStreamFraming.HeaderLength + maxFrameLength + ReadRoom, pinned: true);
    }

    /// <summary>Where the next read goes; never empty after <see cref="Compact"/>.</summary>
    public Span<byte> FreeSpace => _buffer.AsSpan(_end);

    /// <summary>The length prefix of the last <see cref="StreamFrameStatus.Oversized"/> result.</summary>
    public uint RejectedLength { get; private set; }

    /// <summary>Bytes buffered but not yet taken.</summary>
    public int Pending => _end - _start;

    /// <summary>Records that <paramref name="count"/> bytes were read into <see cref="FreeSpace"/>.</summary>
    public void Commit(int count) => _end += count;

    /// <summary>
    /// Takes the next whole frame, if buffered. The span stays valid until the next
    /// <see cref="Commit"/>, <see cref="Compact"/> or <see cref="Reset"/>.
    /// </summary>
    public StreamFrameStatus TryTake(out ReadOnlySpan<byte> frame)
    {
        frame = default;
        if (_end - _start < QemuStreamFraming.HeaderLength) return StreamFrameStatus.NeedMore;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(_start));
        if (length > (uint)_maxFrameLength)
        {
            RejectedLength = length;
            return StreamFrameStatus.Oversized;
        }
        int total = QemuStreamFraming.HeaderLength + (int)length;
        if (_end - _start < total) return StreamFrameStatus.NeedMore;
        frame = _buffer.AsSpan(_start + QemuStreamFraming.HeaderLength, (int)length);
        _start += total;
        return length < EthernetHeaderLength ? StreamFrameStatus.Runt : StreamFrameStatus.Frame;
    }

    /// <summary>Moves a partial frame to the front so that <see cref="FreeSpace"/> has room again.</summary>
    public void Compact()
    {
        if (_start == 0) return;
        int pending = _end - _start;
        if (pending > 0) _buffer.AsSpan(_start, pending).CopyTo(_buffer);
        _start = 0;
        _end = pending;
    }

    /// <summary>Forgets everything buffered (a new connection starts a new stream).</summary>
    public void Reset() => _start = _end = 0;
}
