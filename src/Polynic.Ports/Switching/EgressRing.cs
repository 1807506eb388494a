using System.Runtime.InteropServices;

namespace Polynic.Ports.Switching;

/// <summary>
/// A bounded multi-producer, single-consumer ring of frames in preallocated slots: Dmitry
/// Vyukov's bounded queue, where each cell's sequence number says whose turn it is. Producers
/// (the NIC threads forwarding to this port) claim a cell with one compare-and-swap, copy the
/// frame in and publish it; the port's delivery thread reads cells in order without locks.
/// Nothing is allocated after construction.
/// </summary>
internal sealed class EgressRing
{
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedPosition
    {
        // Alone on its cache lines, so producers and the consumer do not false-share.
        [FieldOffset(64)] public long Value;
    }

    private readonly long[] _sequences;
    private readonly int[] _lengths;
    private readonly byte[] _storage;
    private readonly int _slotSize;
    private readonly int _mask;
    private PaddedPosition _enqueue;
    private PaddedPosition _dequeue;

    public EgressRing(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity);
        _sequences = new long[capacity];
        for (int i = 0; i < capacity; i++) _sequences[i] = i;
        _lengths = new int[capacity];
        _storage = GC.AllocateUninitializedArray<byte>(checked(capacity * slotSize), pinned: true);
        _slotSize = slotSize;
        _mask = capacity - 1;
    }

    public int Capacity => _mask + 1;

    public int SlotSize => _slotSize;

    /// <summary>Frames published and not yet released (a snapshot).</summary>
    public int Count => (int)(Volatile.Read(ref _enqueue.Value) - Volatile.Read(ref _dequeue.Value));

    /// <summary>Claims the next cell; false if the ring is full. The claim must be <see cref="Publish"/>ed.</summary>
    public bool TryClaim(out long position)
    {
        long claim = Volatile.Read(ref _enqueue.Value);
        while (true)
        {
            long sequence = Volatile.Read(ref _sequences[(int)claim & _mask]);
            long turn = sequence - claim;
            if (turn == 0)
            {
                long seen = Interlocked.CompareExchange(ref _enqueue.Value, claim + 1, claim);
                if (seen == claim)
                {
                    position = claim;
                    return true;
                }
                claim = seen;
            }
            else if (turn < 0)
            {
                position = 0;
                return false; // the consumer has not released this cell yet: full
            }
            else
            {
                claim = Volatile.Read(ref _enqueue.Value);
            }
        }
    }

    /// <summary>The cell of a claimed position, <see cref="SlotSize"/> bytes.</summary>
    public Span<byte> Cell(long position) => _storage.AsSpan(((int)position & _mask) * _slotSize, _slotSize);

    /// <summary>Makes a claimed cell holding <paramref name="length"/> bytes visible to the consumer.</summary>
    public void Publish(long position, int length)
    {
        int index = (int)position & _mask;
        _lengths[index] = length;
        Volatile.Write(ref _sequences[index], position + 1);
    }

    /// <summary>The oldest published frame, if any (consumer only).</summary>
    public bool TryPeek(out ReadOnlySpan<byte> frame)
    {
        long position = _dequeue.Value;
        int index = (int)position & _mask;
        if (Volatile.Read(ref _sequences[index]) != position + 1)
        {
            frame = default;
            return false;
        }
        frame = _storage.AsSpan(index * _slotSize, _lengths[index]);
        return true;
    }

    /// <summary>Gives the cell of the frame last peeked back to the producers (consumer only).</summary>
    public void Release()
    {
        long position = _dequeue.Value;
        Volatile.Write(ref _sequences[(int)position & _mask], position + _mask + 1);
        Volatile.Write(ref _dequeue.Value, position + 1);
    }

    /// <summary>Whether a published frame waits (consumer only).</summary>
    public bool HasFrame
    {
        get
        {
            long position = _dequeue.Value;
            return Volatile.Read(ref _sequences[(int)position & _mask]) == position + 1;
        }
    }
}
