namespace Polynic.Ports.Capture;

/// <summary>
/// The frames waiting for a <see cref="PcapngWriter"/>'s thread, in memory allocated once: frame
/// bytes lie contiguous in a byte ring (a frame that does not fit before the end starts again at
/// 0), their descriptions in an entry ring. Many producers (the ports' data paths), one consumer
/// (the writer thread).
/// </summary>
/// <remarks>
/// Producers hold the lock only to copy a frame in, never across I/O, so a stalled disk costs a
/// data path nothing but the capture of its frames. The consumer encodes the oldest entries
/// outside the lock: producers only write into free space, and an entry's bytes are not free
/// until <see cref="Release"/>.
/// </remarks>
internal sealed class CaptureQueue
{
    /// <summary>What became of a frame offered with <see cref="TryAdd"/>.</summary>
    public enum Outcome
    {
        Queued,
        Full,
        Closed,
    }

    /// <summary>One queued frame: where its captured bytes are and what its Enhanced Packet Block says.</summary>
    public readonly record struct Entry(int Offset, int Length, int OriginalLength, int InterfaceId, uint Flags, long UtcTicks);

    private readonly Lock _gate = new();
    private readonly byte[] _data;
    private readonly Entry[] _entries;
    private int _head;
    private int _count;
    private bool _closed;

    public CaptureQueue(int frames, int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        _entries = new Entry[frames];
        _data = GC.AllocateUninitializedArray<byte>(bytes);
    }

    /// <summary>Whether nothing waits (a snapshot).</summary>
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    /// <summary>
    /// Copies <paramref name="captured"/> in, timestamped from <paramref name="clock"/> under the
    /// lock so entries are in time order. Refused when the entries or the bytes are full, or
    /// after <see cref="Close"/>.
    /// </summary>
    public Outcome TryAdd(ReadOnlySpan<byte> captured, int originalLength, int interfaceId, uint flags, TimeProvider clock)
    {
        lock (_gate)
        {
            if (_closed) return Outcome.Closed;
            if (_count == _entries.Length) return Outcome.Full;
            int offset = FreeOffset(captured.Length);
            if (offset < 0) return Outcome.Full;
            captured.CopyTo(_data.AsSpan(offset));
            long ticks = clock.GetUtcNow().UtcTicks;
            _entries[(_head + _count) % _entries.Length] = new Entry(offset, captured.Length, originalLength, interfaceId, flags, ticks);
            Volatile.Write(ref _count, _count + 1);
            return Outcome.Queued;
        }
    }

    /// <summary>Copies the oldest entries (at most <paramref name="batch"/>'s length) without removing them (consumer only).</summary>
    public int Peek(Span<Entry> batch)
    {
        lock (_gate)
        {
            int n = Math.Min(_count, batch.Length);
            for (int i = 0; i < n; i++) batch[i] = _entries[(_head + i) % _entries.Length];
            return n;
        }
    }

    /// <summary>The captured bytes of a peeked entry, valid until it is released.</summary>
    public ReadOnlySpan<byte> Bytes(in Entry entry) => _data.AsSpan(entry.Offset, entry.Length);

    /// <summary>Frees the <paramref name="count"/> oldest entries (consumer only).</summary>
    public void Release(int count)
    {
        lock (_gate)
        {
            _head = (_head + count) % _entries.Length;
            Volatile.Write(ref _count, _count - count);
        }
    }

    /// <summary>Refuses every later frame; what is queued stays for the consumer.</summary>
    public void Close()
    {
        lock (_gate) _closed = true;
    }

    // Used bytes run from the oldest entry's offset to the end of the newest, possibly wrapping
    // once past the end of the array.
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
