namespace Polynic.Core.Pci;

/// <summary>How a base address register decodes (PCI 3.0, section 6.2.5.1).</summary>
public enum BarKind
{
    /// <summary>Memory space, decoded anywhere in the low 4 GiB.</summary>
    Memory32,

    /// <summary>Memory space, 64-bit address; occupies this BAR and the next one.</summary>
    Memory64,

    /// <summary>I/O space.</summary>
    Io,
}

/// <summary>A base address register the function implements.</summary>
/// <param name="Index">BAR number 0..5; a <see cref="BarKind.Memory64"/> BAR also uses <c>Index + 1</c>.</param>
/// <param name="Kind">Address space and width.</param>
/// <param name="Size">Size in bytes: a power of two, at least 16 for memory and 4 for I/O (256 at most for I/O).</param>
/// <param name="Prefetchable">Memory BARs only: reads have no side effects.</param>
public sealed record BarDefinition(int Index, BarKind Kind, ulong Size, bool Prefetchable = false)
{
    internal void Validate()
    {
        if (Index is < 0 or > 5)
            throw new ArgumentOutOfRangeException(nameof(Index), Index, "BAR index must be 0..5.");
        if (Kind == BarKind.Memory64 && Index == 5)
            throw new ArgumentException("A 64-bit BAR needs two BAR slots; BAR 5 has no successor.");
        if (Size == 0 || (Size & (Size - 1)) != 0)
            throw new ArgumentException($"BAR {Index} size {Size} is not a power of two.");
        if (Kind == BarKind.Io && (Size < 4 || Size > 256))
            throw new ArgumentException($"I/O BAR {Index} size {Size} must be 4..256 bytes.");
        if (Kind != BarKind.Io && Size < 16)
            throw new ArgumentException($"Memory BAR {Index} size {Size} must be at least 16 bytes.");
        if (Kind == BarKind.Memory32 && Size > 1UL << 31)
            throw new ArgumentException($"32-bit BAR {Index} size {Size} does not fit below 4 GiB.");
        if (Kind == BarKind.Io && Prefetchable)
            throw new ArgumentException($"I/O BAR {Index} cannot be prefetchable.");
    }
}
