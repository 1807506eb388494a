namespace Polynic.Ports.Switching;

/// <summary>What an <see cref="L2Switch"/>'s MAC table and forwarding did, read without locks.</summary>
public sealed class L2SwitchCounters
{
    private long _learned;
    private long _moved;
    private long _aged;
    private long _evicted;
    private long _flooded;
    private long _filtered;

    /// <summary>Addresses entered into the MAC table.</summary>
    public long Learned => Volatile.Read(ref _learned);

    /// <summary>Learned addresses that reappeared on another port and were moved there.</summary>
    public long Moved => Volatile.Read(ref _moved);

    /// <summary>Entries removed because no frame came from them for the ageing time.</summary>
    public long Aged => Volatile.Read(ref _aged);

    /// <summary>Entries removed to make room while the table was at its capacity.</summary>
    public long Evicted => Volatile.Read(ref _evicted);

    /// <summary>Frames sent to every other port of their VLAN (broadcast, multicast, unknown unicast).</summary>
    public long Flooded => Volatile.Read(ref _flooded);

    /// <summary>Unicast frames whose destination is on the port they came from, so not forwarded.</summary>
    public long Filtered => Volatile.Read(ref _filtered);

    internal void CountLearned() => Interlocked.Increment(ref _learned);

    internal void CountMoved() => Interlocked.Increment(ref _moved);

    internal void CountAged(int entries) => Interlocked.Add(ref _aged, entries);

    internal void CountEvicted() => Interlocked.Increment(ref _evicted);

    internal void CountFlooded() => Interlocked.Increment(ref _flooded);

    internal void CountFiltered() => Interlocked.Increment(ref _filtered);

    /// <inheritdoc/>
    public override string ToString() =>
        $"learned {Learned}, moved {Moved}, aged {Aged}, evicted {Evicted}, flooded {Flooded}, filtered {Filtered}";
}
