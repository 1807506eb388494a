namespace Polynic.Core.Memory;

/// <summary>
/// Bounds-checked access to guest-physical memory for device DMA. Implemented by every
/// transport (vfio-user: mmap'd memfds with a DMA_READ/DMA_WRITE fallback; the in-process
/// test machine: a plain array) so that devices never see how memory reaches them.
/// </summary>
/// <remarks>
/// Every address comes from an untrusted guest. An access that touches any byte outside
/// memory the VMM made available fails as a whole and touches nothing; it never throws.
/// Implementations are safe to call from several threads at once.
/// </remarks>
public interface IGuestMemory
{
    /// <summary>Copies <c>destination.Length</c> bytes starting at <paramref name="address"/>.</summary>
    /// <returns>false, with <paramref name="destination"/> unspecified, if the range is not all guest RAM.</returns>
    bool TryRead(GuestAddress address, Span<byte> destination);

    /// <summary>Copies <paramref name="source"/> to guest memory at <paramref name="address"/>.</summary>
    /// <returns>false, with guest memory unchanged, if the range is not all guest RAM.</returns>
    bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source);
}
