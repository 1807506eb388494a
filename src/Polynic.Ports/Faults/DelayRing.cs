using Polynic.Core.Nic;

namespace Polynic.Ports.Faults;

/// <summary>
/// A bounded first-in-first-out queue of frames for one direction, in memory allocated once:
/// frame bytes lie contiguous in a byte ring (a frame that does not fit before the end starts
/// again at 0), their lengths and due times in an entry ring. Not thread-safe; the
/// <see cref="DelayLine"/> lock guards it.
/// </summary>
/// <remarks>
/// The head entry stays in place while it is delivered outside the lock: producers only write
/// into free space, and the head's bytes are not free until <see cref="RemoveHead"/>.
/// </remarks>
internal sealed class DelayRing
{
    internal readonly record struct Entry(int Offset, int Length, long Due, FrameOffload Offload, bool HasOffload);

    private readonly byte[] _data;
    private readonly Entry[] _entries;
    private int _head;
    private int _count;

    public DelayRing(int frames, int bytes)
    {
        _entries = new Entry[frames];
        _data = new byte[bytes];
    }

    public int Count => _count;

    /// <summary>Due time of the last entry, so a later one is never due before it.</summary>
    public long LastDue { get; private set; }

    public Entry Head => _entries[_head];

    public ReadOnlySpan<byte> Bytes(in Entry entry) => _data.AsSpan(entry.Offset, entry.Length);

    /// <summary>Copies the frame in; false if the entries or the bytes are full.</summary>
    public bool TryAdd(ReadOnlySpan<byte> frame, in FrameOffload offload, bool hasOffload, long due)
    {
        if (_count == _entries.Length) return false;
        int offset = FreeOffset(frame.Length);
        if (offset < 0) return false;
        frame.CopyTo(_data.AsSpan(offset));
        due = Math.Max(due, _count == 0 ? due : LastDue);
        _entries[(_head + _count) % _entries.Length] = new Entry(offset, frame.Length, due, offload, hasOffload);
        _count++;
        LastDue = due;
        return true;
    }

    public void RemoveHead()
    {
        _entries[_head] = default;
        _head = (_head + 1) % _entries.Length;
        _count--;
    }

    public void Clear()
    {
        _head = 0;
        _count = 0;
    }

    // Used bytes run from the head entry's offset to the end of the newest entry, possibly
    // wrapping once past the end of the array.
    private int FreeOffset(int length)
    {
        if (_count == 0) return length <= _data.Length ? 0 : -1;
        int start = _entries[_head].Offset;
        var newest = _entries[(_head + _count - 1) % _entries.Length];
        int end = newest.Offset + newest.Length;
        bool wrapped = newest.Offset < start;
        if (wrapped) return end + length <= start ? end : -1;
        if (end + length <= _data.Length) return end;
        return length <= start ? 0 : -1;
    }
}
