using Polynic.Core.Memory;

namespace Polynic.TestMachine;

/// <summary>
/// Guest RAM of the in-process machine: one flat array starting at guest-physical address 0.
/// Implements the same <see cref="IGuestMemory"/> contract as the vfio-user transport, so a
/// device cannot tell which one it runs on.
/// </summary>
public sealed class GuestRam : IGuestMemory
{
    private readonly byte[] _bytes;
    private long _refused;

    /// <summary>Creates <paramref name="size"/> bytes of zeroed RAM.</summary>
    public GuestRam(int size) => _bytes = new byte[size];

    /// <summary>RAM size in bytes.</summary>
    public int Size => _bytes.Length;

    /// <summary>Reads and writes refused because they touched bytes outside RAM (a fuzzer reports them).</summary>
    public long RefusedCount => Interlocked.Read(ref _refused);

    /// <summary>Direct access for test setup and checks (not bounds-checked against guest rules).</summary>
    public Span<byte> Span(ulong address, int length) => _bytes.AsSpan(checked((int)address), length);

    /// <inheritdoc/>
    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        if (!Contains(address, destination.Length)) return Refuse();
        _bytes.AsSpan((int)address.Value, destination.Length).CopyTo(destination);
        return true;
    }

    /// <inheritdoc/>
    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        if (!Contains(address, source.Length)) return Refuse();
        source.CopyTo(_bytes.AsSpan((int)address.Value));
        return true;
    }

    private bool Refuse()
    {
        Interlocked.Increment(ref _refused);
        return false;
    }

    private bool Contains(GuestAddress address, int length) =>
        length >= 0 && address.Value <= (ulong)_bytes.Length && (ulong)length <= (ulong)_bytes.Length - address.Value;
}
