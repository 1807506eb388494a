using System.Runtime.InteropServices;

namespace Polynic.Ports.Switching;

/// <summary>
/// A bounded multi-producer, single-consumer ring of frames in preallocated slots. Producers (the
/// NIC threads forwarding to this port) claim a position with one compare-and-swap, copy the
/// frame into its slot and publish it by writing the slot's sequence number; the port's delivery
/// thread reads slots in order without locks and hands a whole batch back at once. Nothing is
/// allocated after construction.
/// </summary>
/// <remarks>
/// The consumer publishes how far it got (<c>_tail</c>) once per batch, and producers test for
/// room against a cached copy of it, rereading the real one only when the cache says full. A ring
/// that is full therefore costs the consumer one contended cache line per batch, not one per
/// frame: producers hammering a full ring must not slow down the thread that empties it.
/// </remarks>
internal sealed class EgressRing
{
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct ProducerSide
    {
        // Each group alone on its cache lines, so producers and the consumer do not false-share.
        [FieldOffset(64)] public long Head;
        [FieldOffset(72)] public long CachedTail;
    }

    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct ConsumerSide
    {
        [FieldOffset(64)] public long Tail;      // published: slots before it are free
        [FieldOffset(128)] public long Position; // consumer-private: next slot to read
    }

    private readonly long[] _sequences;
    private readonly int[] _lengths;
    private readonly byte[] _storage;
    private readonly int _slotSize;
    private readonly int _mask;
    private ProducerSide _producers;
    private ConsumerSide _consumer;

    public EgressRing(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity);
        _sequences = new long[capacity];
        _lengths = new int[capacity];
        _storage = GC.AllocateUninitializedArray<byte>(checked(capacity * slotSize), pinned: true);
        _slotSize = slotSize;
        _mask = capacity - 1;
    }

    public int Capacity => _mask + 1;

    public int SlotSize => _slotSize;

    /// <summary>Frames claimed and not yet handed back by the consumer (a snapshot).</summary>
    public int Count => (int)(Volatile.Read(ref _producers.Head) - Volatile.Read(ref _consumer.Tail));

    /// <summary>Claims the next slot; false if the ring is full. The claim must be <see cref="Publish"/>ed.</summary>
    public bool TryClaim(out long position)
    {
        long head = Volatile.Read(ref _producers.Head);
        while (true)
        {
            if (head - Volatile.Read(ref _producers.CachedTail) > _mask)
            {
                // Only ever a value read from Tail, which grows: a stale cache is merely conservative.
                long tail = Volatile.Read(ref _consumer.Tail);
                Volatile.Write(ref _producers.CachedTail, tail);
                if (head - tail > _mask)
                {
                    position = 0;
                    return false;
                }
            }
            long seen = Interlocked.CompareExchange(ref _producers.Head, head + 1, head);
            if (seen == head)
            {
                position = head;
                return true;
            }
            head = seen;
        }
    }

    /// <summary>The slot of a claimed position, <see cref="SlotSize"/> bytes.</summary>
    public Span<byte> Slot(long position) => _storage.AsSpan(((int)position & _mask) * _slotSize, _slotSize);

    /// <summary>Makes a claimed slot holding <paramref name="length"/> bytes visible to the consumer.</summary>
    public void Publish(long position, int length)
    {
        int index = (int)position & _mask;
        _lengths[index] = length;
        // Positions never repeat, so position + 1 cannot be mistaken for a previous lap's value.
        Volatile.Write(ref _sequences[index], position + 1);
    }

    /// <summary>The oldest published frame, if any (consumer only).</summary>
    public bool TryPeek(out ReadOnlySpan<byte> frame)
    {
        long position = _consumer.Position;
        int index = (int)position & _mask;
        if (Volatile.Read(ref _sequences[index]) != position + 1)
        {
            frame = default;
            return false;
        }
        frame = _storage.AsSpan(index * _slotSize, _lengths[index]);
        return true;
    }

    /// <summary>Moves past the frame last peeked (consumer only); its slot is reused after <see cref="Commit"/>.</summary>
    public void Advance() => _consumer.Position++;

    /// <summary>Hands every slot advanced past back to the producers (consumer only).</summary>
    public void Commit() => Volatile.Write(ref _consumer.Tail, _consumer.Position);

    /// <summary>Whether a published frame waits (consumer only).</summary>
    public bool HasFrame
    {
        get
        {
            long position = _consumer.Position;
            return Volatile.Read(ref _sequences[(int)position & _mask]) == position + 1;
        }
    }
}
