using Polynic.Core.Memory;

namespace Polynic.TestMachine;

/// <summary>
/// A view of guest memory that checks every DMA on its way through: it counts the accesses, the
/// ones that touched bytes outside RAM (which the memory behind must refuse), and any such access
/// that was granted all the same — the one thing a hostile guest must never achieve. A fuzzer
/// connects a device to this view and asserts that <see cref="Escaped"/> stays 0.
/// </summary>
/// <remarks>
/// The range check is the audit's own (128-bit sums, so no address near 2^64 can wrap), not the
/// memory's: a bounds bug in the memory behind shows up as an escape instead of going unnoticed.
/// Thread-safe, like the memory it wraps.
/// </remarks>
public sealed class MemoryAudit : IGuestMemory
{
    private readonly IGuestMemory _memory;
    private readonly ulong _size;
    private long _reads, _writes, _refused, _escaped;
    private string? _firstEscape;

    /// <summary>Audits accesses to <paramref name="memory"/>, whose RAM spans [0, <paramref name="size"/>).</summary>
    public MemoryAudit(IGuestMemory memory, ulong size)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _size = size;
    }

    /// <summary>Reads attempted.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Writes attempted.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Accesses that touched bytes outside RAM and were refused, as they must be.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Accesses that touched bytes outside RAM and were granted: must stay 0.</summary>
    public long Escaped => Interlocked.Read(ref _escaped);

    /// <summary>The first escaped access (direction, address, length), or null.</summary>
    public string? FirstEscape => Volatile.Read(ref _firstEscape);

    /// <inheritdoc/>
    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        Interlocked.Increment(ref _reads);
        bool granted = _memory.TryRead(address, destination);
        Check(address, destination.Length, granted, "read");
        return granted;
    }

    /// <inheritdoc/>
    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        Interlocked.Increment(ref _writes);
        bool granted = _memory.TryWrite(address, source);
        Check(address, source.Length, granted, "write");
        return granted;
    }

    private void Check(GuestAddress address, int length, bool granted, string what)
    {
        if ((UInt128)address.Value + (UInt128)(uint)length <= _size) return;
        if (!granted)
        {
            Interlocked.Increment(ref _refused);
            return;
        }
        Interlocked.Increment(ref _escaped);
        Interlocked.CompareExchange(ref _firstEscape, $"{what} of {length} bytes at {address} succeeded outside RAM of 0x{_size:x} bytes", null);
    }
}
