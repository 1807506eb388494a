namespace Polynic.Core.Memory;

/// <summary>
/// A guest-physical address as the device sees it on the bus (no IOMMU: it is what the
/// guest driver wrote into a register or descriptor). A type of its own so that guest
/// addresses are never confused with host pointers, offsets or lengths.
/// </summary>
public readonly record struct GuestAddress(ulong Value)
{
    /// <summary>
    /// Adds <paramref name="offset"/>; false when the sum wraps past 2^64, which a hostile
    /// guest can provoke with a descriptor address near the top of the address space.
    /// </summary>
    public bool TryAdd(ulong offset, out GuestAddress result)
    {
        ulong sum = Value + offset;
        result = new GuestAddress(sum);
        return sum >= Value;
    }

    /// <inheritdoc/>
    public override string ToString() => $"0x{Value:x}";
}
