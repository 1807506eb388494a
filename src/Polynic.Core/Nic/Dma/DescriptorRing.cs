using Polynic.Core.Memory;

namespace Polynic.Core.Nic.Dma;

/// <summary>
/// State of a head/tail descriptor ring in guest memory (e1000 RDBAL/RDLEN/RDH/RDT and the
/// TD* equivalents; 8254x manual, receive and transmit descriptor rings): the device consumes descriptors at
/// <see cref="Head"/> up to, not including, <see cref="Tail"/>, which the driver advances.
/// </summary>
/// <remarks>
/// <para>
/// Every value comes from the guest. A ring whose length is 0 or not a multiple of the
/// descriptor size is not <see cref="IsValid"/> and offers no descriptors. A base that is
/// misaligned or outside guest RAM is the guest's problem: descriptor reads and writes simply
/// fail and are counted in <see cref="DmaFaults"/>. A head beyond the ring wraps to 0 (QEMU
/// e1000's rule for RDH), a tail beyond it is refused; both are counted in <see cref="IndexFaults"/>.
/// </para>
/// <para>
/// A pass over the ring is bounded with <see cref="BeginPass"/>: a device never processes more
/// than <see cref="Count"/> descriptors per doorbell, whatever the guest does to the tail meanwhile.
/// Not thread-safe; the owning device serialises access.
/// </para>
/// </remarks>
public sealed class DescriptorRing
{
    private long _indexFaults;
    private long _dmaFaults;
    // Descriptors in the ring, computed once per Configure: the per-descriptor operations run for
    // every frame and would otherwise divide by the (non-constant) descriptor size each time.
    private uint _count;

    /// <summary>Creates an unconfigured ring of <paramref name="descriptorSize"/>-byte descriptors (e1000: 16).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Size not 1..4096.</exception>
    public DescriptorRing(int descriptorSize)
    {
        if (descriptorSize is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(descriptorSize));
        DescriptorSize = descriptorSize;
    }

    /// <summary>Bytes per descriptor.</summary>
    public int DescriptorSize { get; }

    /// <summary>Guest-physical address of descriptor 0.</summary>
    public GuestAddress Base { get; private set; }

    /// <summary>Ring length in bytes as the guest programmed it.</summary>
    public uint LengthBytes { get; private set; }

    /// <summary>Whether the length is a non-zero multiple of the descriptor size.</summary>
    public bool IsValid => LengthBytes != 0 && LengthBytes % (uint)DescriptorSize == 0;

    /// <summary>Number of descriptors; 0 for an invalid ring.</summary>
    public uint Count => _count;

    /// <summary>Index of the next descriptor the device processes.</summary>
    public uint Head { get; private set; }

    /// <summary>Index one past the last descriptor the driver handed to the device.</summary>
    public uint Tail { get; private set; }

    /// <summary>Descriptors owned by the device: from head up to tail, modulo the ring size.</summary>
    public uint Pending
    {
        get
        {
            uint count = _count, head = Head, tail = Tail;
            if (count == 0) return 0;
            // Head and tail are below the count unless a Configure shrank the ring under them.
            if (head < count && tail < count) return tail >= head ? tail - head : tail + count - head;
            return (tail + count - head) % count;
        }
    }

    /// <summary>No descriptors owned by the device (head equals tail, or the ring is invalid).</summary>
    public bool IsEmpty => Pending == 0;

    /// <summary>Out-of-range head or tail values seen.</summary>
    public long IndexFaults => _indexFaults;

    /// <summary>Descriptor reads or writes that failed (address outside guest RAM, bus mastering off).</summary>
    public long DmaFaults => _dmaFaults;

    /// <summary>Sets base and length (the guest wrote RDBAL/RDBAH/RDLEN). Head and tail are kept. Returns <see cref="IsValid"/>.</summary>
    public bool Configure(GuestAddress baseAddress, uint lengthBytes)
    {
        Base = baseAddress;
        if (lengthBytes != LengthBytes || _count == 0)
        {
            LengthBytes = lengthBytes;
            _count = IsValid ? lengthBytes / (uint)DescriptorSize : 0;
        }
        return _count != 0;
    }

    /// <summary>
    /// Sets the head (the guest wrote RDH/TDH). A value beyond the ring wraps to 0, is counted, and
    /// false is returned.
    /// </summary>
    public bool SetHead(uint head)
    {
        if (head < Count || (Count == 0 && head == 0)) { Head = head; return true; }
        _indexFaults++;
        Head = 0;
        return false;
    }

    /// <summary>
    /// Sets the tail (the guest wrote RDT/TDT). A value beyond the ring is refused (the tail keeps
    /// its value), counted, and false is returned.
    /// </summary>
    public bool SetTail(uint tail)
    {
        if (tail < Count || (Count == 0 && tail == 0)) { Tail = tail; return true; }
        _indexFaults++;
        return false;
    }

    /// <summary>Moves the head to the next descriptor, wrapping at the end of the ring. Returns the new head.</summary>
    public uint Advance()
    {
        uint count = _count, next = Head + 1;
        Head = count == 0 ? 0 : next < count ? next : next % count;
        return Head;
    }

    /// <summary>Guest address of descriptor <paramref name="index"/>; false if the index is outside the ring or the sum wraps.</summary>
    public bool TryGetAddress(uint index, out GuestAddress address)
    {
        address = default;
        if (index >= Count) return false;
        return Base.TryAdd((ulong)index * (uint)DescriptorSize, out address);
    }

    /// <summary>
    /// Reads the descriptor at the head into <paramref name="descriptor"/> (at least
    /// <see cref="DescriptorSize"/> bytes; only that many are written). False, counted in
    /// <see cref="DmaFaults"/>, if the ring is invalid or the memory read fails.
    /// </summary>
    public bool TryReadHead(IGuestMemory memory, Span<byte> descriptor) => TryRead(memory, Head, descriptor);

    /// <summary>Reads descriptor <paramref name="index"/>; see <see cref="TryReadHead"/>.</summary>
    public bool TryRead(IGuestMemory memory, uint index, Span<byte> descriptor)
    {
        if (descriptor.Length < DescriptorSize || !TryGetAddress(index, out var address)
            || !memory.TryRead(address, descriptor[..DescriptorSize]))
        {
            _dmaFaults++;
            return false;
        }
        return true;
    }

    /// <summary>
    /// Writes the descriptor at the head back to guest memory (status write-back). Writes
    /// <c>descriptor.Length</c> bytes, at most <see cref="DescriptorSize"/>. False, counted, on failure.
    /// </summary>
    public bool TryWriteHead(IGuestMemory memory, ReadOnlySpan<byte> descriptor) => TryWrite(memory, Head, descriptor);

    /// <summary>Writes descriptor <paramref name="index"/>; see <see cref="TryWriteHead"/>.</summary>
    public bool TryWrite(IGuestMemory memory, uint index, ReadOnlySpan<byte> descriptor)
    {
        if (descriptor.Length > DescriptorSize || !TryGetAddress(index, out var address) || !memory.TryWrite(address, descriptor))
        {
            _dmaFaults++;
            return false;
        }
        return true;
    }

    /// <summary>Starts a bounded pass: at most <see cref="Count"/> descriptors (the ring size at this moment).</summary>
    public RingBudget BeginPass() => new(Count);

    /// <summary>Clears base, length, head and tail (device reset). Fault counters are kept.</summary>
    public void Reset()
    {
        Base = default;
        LengthBytes = 0;
        _count = 0;
        Head = Tail = 0;
    }
}

/// <summary>
/// How many more descriptors a device may process in the current pass. A loop driven by guest
/// state (<c>while (!ring.IsEmpty)</c>) also tests <see cref="TryTake"/>, so a guest that keeps
/// moving the tail cannot keep the device busy forever.
/// </summary>
public struct RingBudget
{
    /// <summary>A budget of <paramref name="limit"/> descriptors.</summary>
    public RingBudget(uint limit) => Remaining = limit;

    /// <summary>Descriptors left in this pass.</summary>
    public uint Remaining { get; private set; }

    /// <summary>Whether the budget ran out (the device should stop and retry on the next doorbell or timer).</summary>
    public readonly bool IsExhausted => Remaining == 0;

    /// <summary>Takes one descriptor from the budget; false when none is left.</summary>
    public bool TryTake()
    {
        if (Remaining == 0) return false;
        Remaining--;
        return true;
    }
}
