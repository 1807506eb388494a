using System.Buffers.Binary;
using Polynic.Core.Memory;

namespace Polynic.Core.Virtio;

/// <summary>
/// One split virtqueue (virtio 1.2, 2.7): descriptor table, driver (avail) ring and device (used)
/// ring in guest memory, walked by the device. Every index and address comes from the guest and is
/// checked; nothing is allocated per chain (the segments of a chain go to an array sized once, at
/// the queue's maximum size, which also bounds every chain).
/// </summary>
/// <remarks>
/// Not thread-safe: one thread at a time processes a queue (the owner's lock or a worker per queue).
/// Ring updates are ordered as the spec's memory barriers require: the used element before the used
/// index, the used index before reading used_event, avail_event before re-reading the avail index.
/// </remarks>
public sealed class SplitVirtqueue
{
    /// <summary>VIRTIO_MSI_NO_VECTOR: no MSI-X vector assigned.</summary>
    public const ushort NoVector = 0xFFFF;

    private const ushort DescNext = 1, DescWrite = 2, DescIndirect = 4;
    private const ushort AvailNoInterrupt = 1;
    private const int DescriptorSize = 16;

    private readonly VirtqueueSegment[] _segments;
    // Scratch for one descriptor and one used element. Not stackalloc: a method with a loop and a
    // stackalloc is compiled once without profile data (no tiering), and these run for every chain.
    private readonly byte[] _descriptor = new byte[DescriptorSize];
    private readonly byte[] _element = new byte[8];
    private ushort _lastAvail;
    // The driver's avail index as last read: chains up to it are published, so the ring is read
    // again only once they are taken (QEMU's shadow_avail_idx, Linux vhost's avail_idx).
    private ushort _availIdx;
    // Avail ring entries read in one go once their index is read (a DMA per batch, not per chain),
    // by ring slot; valid for [_lastAvail, _prefetched). One failed read falls back to entry by entry.
    private readonly byte[] _availEntries;
    private ushort _prefetched;
    private bool _prefetchFailed;
    // Ring slots given back by Unpop and not taken again yet: a malformed chain in one of them was
    // counted when it was first taken, so taking it again does not count it twice.
    private int _replayed;
    private ushort _used;
    private ushort _signalledUsed;
    private bool _signalledValid;

    /// <summary>Creates queue <paramref name="index"/> with at most <paramref name="maxSize"/> entries (a power of two, 1..32768).</summary>
    public SplitVirtqueue(int index, ushort maxSize)
    {
        if (maxSize == 0 || maxSize > 32768 || (maxSize & (maxSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(maxSize), "A power of two, 1..32768.");
        Index = index;
        MaxSize = maxSize;
        _segments = new VirtqueueSegment[maxSize];
        _availEntries = new byte[2 * maxSize];
        Reset();
    }

    /// <summary>The queue's index on its device.</summary>
    public int Index { get; }

    /// <summary>Largest size the driver may choose (queue_size as first read).</summary>
    public ushort MaxSize { get; }

    /// <summary>Size the driver chose (queue_size).</summary>
    public ushort Size { get; set; }

    /// <summary>Descriptor table address (queue_desc).</summary>
    public GuestAddress DescriptorTable { get; set; }

    /// <summary>Driver area: the avail ring (queue_driver).</summary>
    public GuestAddress DriverArea { get; set; }

    /// <summary>Device area: the used ring (queue_device).</summary>
    public GuestAddress DeviceArea { get; set; }

    /// <summary>MSI-X vector for used-buffer notifications (queue_msix_vector), or <see cref="NoVector"/>.</summary>
    public ushort MsixVector { get; set; }

    /// <summary>queue_enable: the driver made the queue live.</summary>
    public bool Enabled { get; set; }

    /// <summary>VIRTIO_F_EVENT_IDX was negotiated for this queue's device.</summary>
    public bool EventIndex { get; set; }

    /// <summary>The ring is unusable (bogus avail index) until the device or queue is reset.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>
    /// Chains refused as malformed (each counted once, however often <see cref="Unpop"/> gives it back),
    /// chains the device refused with <see cref="Refuse"/>, and bad ring indices or ring memory outside RAM.
    /// </summary>
    public long Faults { get; private set; }

    private long _notifications;

    /// <summary>Chains returned to the used ring.</summary>
    public long Completed { get; private set; }

    /// <summary>Notifications (kicks) the driver sent for this queue; counted by whoever receives them, lock-free.</summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    /// <summary>Used-buffer notifications (interrupts) the device sent the driver for this queue.</summary>
    public long Interrupts { get; private set; }

    /// <summary>Counts a notification from the driver; safe without the device lock (the thread carrying notifications does it).</summary>
    public void CountNotification() => Interlocked.Increment(ref _notifications);

    /// <summary>Whether the queue can be processed: enabled, a valid size, not broken.</summary>
    public bool IsLive => Enabled && !IsBroken && Size != 0 && Size <= MaxSize && (Size & (Size - 1)) == 0;

    /// <summary>Back to the reset state: size = max, no vector, not enabled, indices 0.</summary>
    public void Reset()
    {
        Size = MaxSize;
        DescriptorTable = DriverArea = DeviceArea = default;
        MsixVector = NoVector;
        Enabled = false;
        EventIndex = false;
        IsBroken = false;
        _lastAvail = _availIdx = _prefetched = _used = _signalledUsed = 0;
        _prefetchFailed = false;
        _replayed = 0;
        _signalledValid = false;
    }

    /// <summary>
    /// Takes the next available chain. <see cref="ChainStatus.Malformed"/> consumes the head (return
    /// it with <see cref="PushUsed(IGuestMemory, ushort, uint)"/>, length 0); <see cref="ChainStatus.Broken"/> marks the queue broken.
    /// </summary>
    public ChainStatus TryPop(IGuestMemory memory, out DescriptorChain chain)
    {
        chain = default;
        if (!IsLive) return ChainStatus.Empty;
        if (_availIdx == _lastAvail)
        {
            if (!TryReadU16(memory, DriverArea, 2, out ushort availIdx)) return Fault(ChainStatus.Broken);
            ushort pending = (ushort)(availIdx - _lastAvail);
            if (pending == 0) return ChainStatus.Empty;
            if (pending > Size) return Fault(ChainStatus.Broken);
            _availIdx = availIdx;
            _prefetchFailed = false;
            // The avail index is read before the ring entries it covers (virtio 1.2, 2.7.13.3
            // barrier): a load-load ordering, which the read barrier gives without a full fence.
            Volatile.ReadBarrier();
        }
        if (!TryTakeHead(memory, out ushort head)) return Fault(ChainStatus.Broken);
        _lastAvail++;
        bool counted = _replayed > 0;
        if (counted) _replayed--;
        var status = head >= Size ? ChainStatus.Malformed : Walk(memory, head, out chain);
        if (status != ChainStatus.Ok)
        {
            if (!counted) Faults++;
            chain = new DescriptorChain(head, default, 0, 0, 0);
        }
        return status;
    }

    /// <summary>
    /// Gives back the last <paramref name="count"/> chains taken with <see cref="TryPop"/>, none of
    /// which went to the used ring: the next pops take the same ring slots again (a receive that
    /// found too few buffers). Malformed chains among them are not counted again.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or more than the queue size.</exception>
    public void Unpop(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, (int)Size);
        _lastAvail -= (ushort)count;
        // The next pop reads the avail index and its entries again, checked against the slots given back.
        _availIdx = _prefetched = _lastAvail;
        _replayed = Math.Min(_replayed + count, Size);
    }

    /// <summary>
    /// Returns chain <paramref name="head"/> unused (length 0) and counts it in <see cref="Faults"/>:
    /// for a chain <see cref="TryPop"/> walked without fault but that breaks a rule of the device type
    /// (e.g. a network receive chain with device-readable buffers, or too short for its header,
    /// virtio 1.2, 5.1.6.3.1) or whose buffers turned out not to be guest RAM. A
    /// <see cref="ChainStatus.Malformed"/> chain was counted when popped: return it with
    /// <see cref="PushUsed(IGuestMemory, ushort, uint)"/> instead. False if the used ring is not in guest RAM.
    /// </summary>
    public bool Refuse(IGuestMemory memory, ushort head)
    {
        Faults++;
        return PushUsed(memory, head, 0);
    }

    /// <summary>
    /// Returns chain <paramref name="head"/> to the driver with <paramref name="written"/> bytes written
    /// into its writable buffers. False (counted) if the used ring is not in guest RAM.
    /// </summary>
    public bool PushUsed(IGuestMemory memory, ushort head, uint written) =>
        PushUsed(memory, [new UsedBuffer(head, written)]);

    /// <summary>
    /// Returns several chains at once and publishes them with one used-index update, so the driver
    /// sees all of them or none: virtio 1.2, 5.1.6.4.1, the buffers of one received packet are used
    /// together (a driver polling the ring meanwhile must not find num_buffers of them missing).
    /// False (counted) if the used ring is not in guest RAM; nothing is published then.
    /// </summary>
    public bool PushUsed(IGuestMemory memory, ReadOnlySpan<UsedBuffer> buffers)
    {
        if (!IsLive || buffers.Length > Size) return false;
        Span<byte> element = _element;
        ushort used = _used;
        int wrap = Size - 1;   // a power of two on a live queue
        foreach (var buffer in buffers)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(element, buffer.Head);
            BinaryPrimitives.WriteUInt32LittleEndian(element[4..], buffer.Written);
            if (!DeviceArea.TryAdd(4 + 8 * (ulong)(used & wrap), out var at) || !memory.TryWrite(at, element))
            {
                Faults++;
                return false;
            }
            used++;
        }
        _used = used;
        // The elements must be visible before the index that publishes them (2.7.8.2): a
        // store-store ordering, which the write barrier gives without a full fence.
        Volatile.WriteBarrier();
        if (!WriteU16(memory, DeviceArea, 2, _used)) { Faults++; return false; }
        Completed += buffers.Length;
        return true;
    }

    /// <summary>
    /// Whether the driver wants an interrupt for the buffers used since the last call that said yes
    /// (virtio 1.2, 2.7.10: used_event with EVENT_IDX, else VIRTQ_AVAIL_F_NO_INTERRUPT).
    /// </summary>
    public bool NeedsInterrupt(IGuestMemory memory)
    {
        if (!IsLive) return false;
        // The used index is published before the driver's suppression field is read.
        Interlocked.MemoryBarrier();
        ushort old = _signalledUsed;
        bool valid = _signalledValid;
        _signalledUsed = _used;
        _signalledValid = true;
        bool needed;
        if (!EventIndex)
            needed = !TryReadU16(memory, DriverArea, 0, out ushort flags) || ((flags & AvailNoInterrupt) == 0 && old != _used);
        else
            // vring_need_event: the driver asked to be told once the used index passes used_event.
            needed = !TryReadU16(memory, DriverArea, 4 + 2 * (ulong)Size, out ushort usedEvent)
                || !valid || (ushort)(_used - usedEvent - 1) < (ushort)(_used - old);
        if (needed) Interrupts++;
        return needed;
    }

    /// <summary>
    /// Asks the driver to notify as soon as it adds any buffer (avail_event = next index with
    /// EVENT_IDX), then reports whether buffers arrived meanwhile, so the caller processes them
    /// instead of waiting for a notification that will not come.
    /// </summary>
    public bool ArmNotification(IGuestMemory memory)
    {
        if (!IsLive) return false;
        if (EventIndex) WriteU16(memory, DeviceArea, 4 + 8 * (ulong)Size, _lastAvail);
        Interlocked.MemoryBarrier();
        return HasAvailable(memory);
    }

    /// <summary>
    /// For a device that found the available buffers too few (a frame needs more of them): asks
    /// the driver to notify when it adds any buffer beyond those available now (avail_event = the
    /// driver's current avail index, with EVENT_IDX), then reports whether it added some
    /// meanwhile. <see cref="ArmNotification"/> would set avail_event to the first unpopped buffer,
    /// which the driver has already passed, so it would never notify again.
    /// </summary>
    public bool ArmNotificationForMore(IGuestMemory memory)
    {
        if (!IsLive || !TryReadU16(memory, DriverArea, 2, out ushort availIdx)) return false;
        if (EventIndex) WriteU16(memory, DeviceArea, 4 + 8 * (ulong)Size, availIdx);
        Interlocked.MemoryBarrier();
        return TryReadU16(memory, DriverArea, 2, out ushort now) && now != availIdx;
    }

    /// <summary>Whether the driver has made buffers available that were not popped yet.</summary>
    public bool HasAvailable(IGuestMemory memory) =>
        IsLive && TryReadU16(memory, DriverArea, 2, out ushort availIdx) && availIdx != _lastAvail;

    /// <summary>The head at <c>_lastAvail</c>, published by the avail index last read.</summary>
    private bool TryTakeHead(IGuestMemory memory, out ushort head)
    {
        // Size is a power of two on a live queue: the mask is the ring position without a division.
        int slot = _lastAvail & (Size - 1);
        if (_prefetched == _lastAvail && !_prefetchFailed)
        {
            // The published entries up to the ring's end (the rest once these are taken).
            int count = Math.Min((ushort)(_availIdx - _lastAvail), Size - slot);
            if (DriverArea.TryAdd(4 + 2 * (ulong)slot, out var at) && memory.TryRead(at, _availEntries.AsSpan(2 * slot, 2 * count)))
                _prefetched = (ushort)(_lastAvail + count);
            else _prefetchFailed = true;
        }
        if (_prefetched != _lastAvail)
        {
            head = BinaryPrimitives.ReadUInt16LittleEndian(_availEntries.AsSpan(2 * slot, 2));
            return true;
        }
        return TryReadU16(memory, DriverArea, 4 + 2 * (ulong)slot, out head);
    }

    private ChainStatus Walk(IGuestMemory memory, ushort head, out DescriptorChain chain)
    {
        chain = default;
        Span<byte> d = _descriptor;
        GuestAddress table = DescriptorTable;
        int tableSize = Size;
        int limit = Size;
        int count = 0, readable = 0;
        long readLength = 0, writeLength = 0;
        bool indirect = false;
        ushort index = head;
        // Bounded: every step adds a segment or switches to the indirect table once, and the
        // number of segments is capped at the queue size, which is also what a loop runs into.
        while (true)
        {
            if (index >= tableSize) return ChainStatus.Malformed;
            if (!table.TryAdd((ulong)index * DescriptorSize, out var at) || !memory.TryRead(at, d)) return ChainStatus.Malformed;
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(d);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(d[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);
            if ((flags & DescIndirect) != 0)
            {
                // 2.7.5.3.1: no indirect within indirect, not together with NEXT, and only as the whole chain.
                if (indirect || count != 0 || (flags & DescNext) != 0 || length == 0 || length % DescriptorSize != 0
                    || length / DescriptorSize > (uint)MaxSize)
                    return ChainStatus.Malformed;
                indirect = true;
                table = new GuestAddress(address);
                tableSize = (int)(length / DescriptorSize);
                limit = tableSize;
                index = 0;
                continue;
            }
            if (count >= limit) return ChainStatus.Malformed;
            if (!new GuestAddress(address).TryAdd(length, out _)) return ChainStatus.Malformed;
            // 2.7.5.2: a chain is at most 2^32 bytes in total (what a used element's len can say).
            if (readLength + writeLength + length > uint.MaxValue) return ChainStatus.Malformed;
            bool write = (flags & DescWrite) != 0;
            if (write) writeLength += length;
            else
            {
                // 2.7.4.2: readable buffers precede writable ones.
                if (writeLength != 0 || count != readable) return ChainStatus.Malformed;
                readLength += length;
                readable++;
            }
            _segments[count++] = new VirtqueueSegment(new GuestAddress(address), length, write);
            if ((flags & DescNext) == 0) break;
            index = next;
        }
        chain = new DescriptorChain(head, _segments.AsSpan(0, count), readable, readLength, writeLength);
        return ChainStatus.Ok;
    }

    private ChainStatus Fault(ChainStatus status)
    {
        Faults++;
        if (status == ChainStatus.Broken) IsBroken = true;
        return status;
    }

    private static bool TryReadU16(IGuestMemory memory, GuestAddress area, ulong offset, out ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        value = 0;
        if (!area.TryAdd(offset, out var at) || !memory.TryRead(at, b)) return false;
        value = BinaryPrimitives.ReadUInt16LittleEndian(b);
        return true;
    }

    private static bool WriteU16(IGuestMemory memory, GuestAddress area, ulong offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        return area.TryAdd(offset, out var at) && memory.TryWrite(at, b);
    }
}

/// <summary>A chain returned to the driver: its head and the bytes the device wrote into it (a used ring element).</summary>
public readonly record struct UsedBuffer(ushort Head, uint Written);
