namespace Polynic.Ports.Switching;

/// <summary>
/// The filtering database of an <see cref="L2Switch"/>: (VLAN, MAC address) to port, with the
/// time the address was last seen. One entry per address and VLAN (independent VLAN learning,
/// IEEE 802.1Q-2018, 8.8).
/// </summary>
/// <remarks>
/// Lookups run on every forwarded frame from many NIC threads at once, so they take no lock: an
/// open-addressing table (linear probing) whose slots are each guarded by a sequence counter
/// (a seqlock). Changes (a new address, a move, removal) take one lock. A lookup that races with
/// a change may miss an entry that exists; the switch then floods the frame, which delivers it
/// anyway, so a miss is always safe where a wrong port would not be. The table has twice as many
/// slots as entries, so probe chains stay short and there is always an empty slot.
/// </remarks>
internal sealed class MacTable
{
    private struct Slot
    {
        public int Sequence;   // odd while a writer changes the slot
        public ulong Key;      // VLAN << 48 | MAC; 0 = empty (VLAN 0 is never learned)
        public SwitchPort? Port;
        public long LastSeen;  // TimeProvider timestamp
    }

    private const int EvictionSample = 8;

    private readonly Slot[] _slots;
    private readonly int _mask;
    private readonly int _shift;
    private readonly int _capacity;
    private readonly long _agingTicks;
    private readonly long _refreshTicks;
    private readonly L2SwitchCounters _counters;
    private readonly object _writeGate = new();
    private int _count;
    private int _evictionCursor;

    public MacTable(int capacity, long agingTicks, long ticksPerSecond, L2SwitchCounters counters)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(agingTicks);
        int slots = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2));
        _slots = new Slot[slots];
        _mask = slots - 1;
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)slots);
        _capacity = capacity;
        _agingTicks = agingTicks;
        // Refreshing the last-seen time writes a cache line that other cores read; once a second
        // (or 1/8 of the ageing time, if shorter) is precise enough for ageing.
        _refreshTicks = Math.Max(1, Math.Min(ticksPerSecond, agingTicks / 8));
        _counters = counters;
    }

    public int Count => Volatile.Read(ref _count);

    public int Capacity => _capacity;

    public static ulong Key(ulong mac, int vlan) => (ulong)vlan << 48 | mac;

    /// <summary>The port <paramref name="key"/> was learned on, if it is known and not aged.</summary>
    public SwitchPort? Lookup(ulong key, long now)
    {
        int index = Find(key, out int sequence);
        if (index < 0) return null;
        ref Slot slot = ref _slots[index];
        SwitchPort? port = Volatile.Read(ref slot.Port);
        long lastSeen = Volatile.Read(ref slot.LastSeen);
        if (Volatile.Read(ref slot.Sequence) != sequence) return null;
        return now - lastSeen > _agingTicks ? null : port;
    }

    /// <summary>Records that <paramref name="key"/> sent a frame on <paramref name="port"/> at <paramref name="now"/>.</summary>
    public void Learn(ulong key, SwitchPort port, long now)
    {
        int index = Find(key, out int sequence);
        if (index >= 0)
        {
            ref Slot slot = ref _slots[index];
            bool samePort = ReferenceEquals(Volatile.Read(ref slot.Port), port);
            long lastSeen = Volatile.Read(ref slot.LastSeen);
            if (samePort && Volatile.Read(ref slot.Sequence) == sequence)
            {
                // A racing writer may have reused the slot since; refreshing another entry's time
                // only keeps it a little longer, so no lock is needed.
                if (now - lastSeen >= _refreshTicks) Volatile.Write(ref slot.LastSeen, now);
                return;
            }
        }
        lock (_writeGate) LearnLocked(key, port, now);
    }

    /// <summary>Removes every entry of <paramref name="port"/> (port disabled or removed).</summary>
    public void RemovePort(SwitchPort port)
    {
        lock (_writeGate) RemoveWhere(static (in Slot s, SwitchPort? p, long _, long _) => ReferenceEquals(s.Port, p), port, 0);
    }

    /// <summary>Removes entries not seen for the ageing time; returns how many.</summary>
    public int RemoveAged(long now)
    {
        int removed;
        lock (_writeGate) removed = RemoveWhere(static (in Slot s, SwitchPort? _, long n, long aging) => n - s.LastSeen > aging, null, now);
        if (removed > 0) _counters.CountAged(removed);
        return removed;
    }

    /// <summary>Like <see cref="RemoveAged"/>, unless another thread is changing the table right now.</summary>
    public void TryRemoveAged(long now)
    {
        if (!Monitor.TryEnter(_writeGate)) return;
        int removed;
        try
        {
            removed = RemoveWhere(static (in Slot s, SwitchPort? _, long n, long aging) => n - s.LastSeen > aging, null, now);
        }
        finally
        {
            Monitor.Exit(_writeGate);
        }
        if (removed > 0) _counters.CountAged(removed);
    }

    /// <summary>A copy of the entries, for management and tests.</summary>
    public List<(ulong Key, SwitchPort Port, long LastSeen)> Snapshot()
    {
        var entries = new List<(ulong, SwitchPort, long)>();
        lock (_writeGate)
            foreach (ref readonly Slot slot in _slots.AsSpan())
                if (slot.Key != 0) entries.Add((slot.Key, slot.Port!, slot.LastSeen));
        return entries;
    }

    private int Home(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>The slot holding <paramref name="key"/> with its (even) sequence, or -1; lock-free.</summary>
    private int Find(ulong key, out int sequence)
    {
        int index = Home(key);
        for (int probe = 0; probe <= _mask; probe++)
        {
            ref Slot slot = ref _slots[index];
            sequence = Volatile.Read(ref slot.Sequence);
            ulong slotKey = Volatile.Read(ref slot.Key);
            if (slotKey == key) return (sequence & 1) == 0 ? index : -1;
            if (slotKey == 0) break;
            index = (index + 1) & _mask;
        }
        sequence = 0;
        return -1;
    }

    private int FindLocked(ulong key, out int firstEmpty)
    {
        int index = Home(key);
        while (true)
        {
            ulong slotKey = _slots[index].Key;
            if (slotKey == key) { firstEmpty = -1; return index; }
            if (slotKey == 0) { firstEmpty = index; return -1; }
            index = (index + 1) & _mask;
        }
    }

    private void LearnLocked(ulong key, SwitchPort port, long now)
    {
        // A frame that passed the ingress checks just before its port was disabled or removed
        // must not re-learn an address RemovePort has already cleared: both run under _writeGate,
        // and the port's state changes before RemovePort takes it.
        if (!port.LinkUp) return;
        int index = FindLocked(key, out int empty);
        if (index >= 0)
        {
            ref Slot slot = ref _slots[index];
            if (!ReferenceEquals(slot.Port, port)) _counters.CountMoved();
            Write(index, key, port, now);
            return;
        }
        if (_count >= _capacity)
        {
            EvictOne(now);
            FindLocked(key, out empty); // eviction shifts entries, so the free slot may have moved
        }
        Write(empty, key, port, now);
        Volatile.Write(ref _count, _count + 1);
        _counters.CountLearned();
    }

    /// <summary>
    /// Removes the least recently seen of a few entries from a rotating cursor (sampled LRU, as
    /// Redis does): constant work per new address even under a flood of random sources, and an
    /// address that keeps sending is rarely the one to go.
    /// </summary>
    private void EvictOne(long now)
    {
        int oldest = -1;
        int seen = 0;
        for (int probe = 0; probe <= _mask && seen < EvictionSample; probe++)
        {
            int index = (_evictionCursor + probe) & _mask;
            if (_slots[index].Key == 0) continue;
            seen++;
            if (oldest < 0 || _slots[index].LastSeen < _slots[oldest].LastSeen) oldest = index;
        }
        _evictionCursor = (oldest + 1) & _mask;
        bool aged = now - _slots[oldest].LastSeen > _agingTicks;
        RemoveAt(oldest);
        if (aged) _counters.CountAged(1);
        else _counters.CountEvicted();
    }

    private delegate bool SlotPredicate(in Slot slot, SwitchPort? port, long now, long aging);

    private int RemoveWhere(SlotPredicate predicate, SwitchPort? port, long now)
    {
        int removed = 0;
        for (int index = 0; index <= _mask; index++)
        {
            // Removal shifts a later entry into this slot, so look at the same slot again.
            while (_slots[index].Key != 0 && predicate(in _slots[index], port, now, _agingTicks))
            {
                RemoveAt(index);
                removed++;
            }
        }
        return removed;
    }

    /// <summary>Backward-shift deletion for linear probing (Knuth, TAOCP vol. 3, 6.4, algorithm R): no tombstones.</summary>
    private void RemoveAt(int hole)
    {
        int next = hole;
        while (true)
        {
            next = (next + 1) & _mask;
            ref Slot candidate = ref _slots[next];
            if (candidate.Key == 0) break;
            int home = Home(candidate.Key);
            bool stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
            if (stays) continue;
            Write(hole, candidate.Key, candidate.Port, candidate.LastSeen);
            hole = next;
        }
        Write(hole, 0, null, 0);
        Volatile.Write(ref _count, _count - 1);
    }

    private void Write(int index, ulong key, SwitchPort? port, long lastSeen)
    {
        ref Slot slot = ref _slots[index];
        Interlocked.Increment(ref slot.Sequence); // odd: readers ignore the slot; a full fence before the stores
        slot.Key = key;
        slot.Port = port;
        slot.LastSeen = lastSeen;
        Volatile.Write(ref slot.Sequence, slot.Sequence + 1);
    }
}
