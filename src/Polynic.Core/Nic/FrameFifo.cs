using System.Buffers.Binary;

namespace Polynic.Core.Nic;

/// <summary>
/// A NIC's on-chip receive packet buffer: frames that arrived while the guest had no receive
/// descriptors wait here, in order, until it posts some (e1000 RX packet buffer sized by PBA,
/// 8254x SDM 3.2.1; RTL8139 and NE2000 have the same kind of FIFO). When it is full, further frames
/// are missed (e1000 MPC).
/// </summary>
/// <remarks>
/// One preallocated byte ring; each frame is stored contiguously with a 64-bit tag the device
/// uses for per-frame metadata (descriptor status bits, lengths). Enqueue and dequeue copy and
/// never allocate. Not thread-safe: the device calls it under its lock.
/// </remarks>
public sealed class FrameFifo
{
    private const int HeaderLength = 12;   // 4-byte length + 8-byte tag

    private readonly byte[] _buffer;
    private int _head;
    private int _tail;
    private int _wrapEnd = -1;   // end of the data before the wrap while the stored frames wrap, else -1
    private int _used;
    private int _limit;

    /// <summary>Creates an empty FIFO of <paramref name="capacityBytes"/> bytes (frames plus 12 bytes each).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Capacity below 64 bytes or above 16 MiB.</exception>
    public FrameFifo(int capacityBytes)
    {
        if (capacityBytes is < 64 or > 16 << 20) throw new ArgumentOutOfRangeException(nameof(capacityBytes));
        _buffer = new byte[capacityBytes];
        _limit = capacityBytes;
    }

    /// <summary>Size of the storage.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>
    /// Bytes the FIFO may hold, at most <see cref="Capacity"/> (the guest-programmed size, e.g. e1000
    /// PBA's receive allocation). Lowering it below what is stored keeps the stored frames.
    /// </summary>
    public int Limit
    {
        get => _limit;
        set => _limit = Math.Clamp(value, 0, _buffer.Length);
    }

    /// <summary>Frames waiting.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes used by waiting frames, their 12-byte headers included.</summary>
    public int UsedBytes => _used;

    /// <summary>Whether <see cref="TryEnqueue"/> would store a frame of <paramref name="frameLength"/> bytes now.</summary>
    public bool HasRoomFor(int frameLength) => frameLength >= 0 && TryFindSlot(HeaderLength + frameLength, out _, out _);

    /// <summary>Where <paramref name="need"/> bytes would go: contiguous, within the limit.</summary>
    private bool TryFindSlot(int need, out int at, out bool wraps)
    {
        at = 0;
        wraps = false;
        if (need > _limit - _used) return false;
        if (Count == 0) return need <= _buffer.Length; // empty: starts again at 0
        if (_wrapEnd < 0)
        {
            // Stored data is [head, tail): room at the end, else wrap to the start (before head).
            if (_buffer.Length - _tail >= need) { at = _tail; return true; }
            if (_head >= need) { wraps = true; return true; }
            return false;
        }
        // Stored data is [head, wrapEnd) and [0, tail): room only between tail and head.
        at = _tail;
        return _head - _tail >= need;
    }

    /// <summary>Stores a copy of <paramref name="frame"/> with <paramref name="tag"/>; false (nothing stored) if it does not fit.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> frame, ulong tag)
    {
        int need = HeaderLength + frame.Length;
        if (!TryFindSlot(need, out int at, out bool wraps)) return false;
        if (Count == 0)
        {
            _head = 0;
            _wrapEnd = -1;
        }
        if (wraps) _wrapEnd = _tail;
        var slot = _buffer.AsSpan(at, need);
        BinaryPrimitives.WriteInt32LittleEndian(slot, frame.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(slot[4..], tag);
        frame.CopyTo(slot[HeaderLength..]);
        _tail = at + need;
        _used += need;
        Count++;
        return true;
    }

    /// <summary>The oldest frame (valid until the next enqueue or dequeue) and its tag; false when empty.</summary>
    public bool TryPeek(out ReadOnlySpan<byte> frame, out ulong tag)
    {
        if (Count == 0)
        {
            frame = default;
            tag = 0;
            return false;
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_head));
        tag = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_head + 4));
        frame = _buffer.AsSpan(_head + HeaderLength, length);
        return true;
    }

    /// <summary>Drops the oldest frame; false when empty.</summary>
    public bool TryDequeue()
    {
        if (Count == 0) return false;
        int need = HeaderLength + BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_head));
        _head += need;
        _used -= need;
        Count--;
        if (_wrapEnd >= 0 && _head >= _wrapEnd)
        {
            _head = 0;
            _wrapEnd = -1;
        }
        if (Count == 0) _head = _tail = _used = 0;
        return true;
    }

    /// <summary>Forgets every waiting frame (device reset).</summary>
    public void Clear()
    {
        _head = _tail = _used = 0;
        _wrapEnd = -1;
        Count = 0;
    }
}
