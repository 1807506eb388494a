namespace Polynic.Core.Nic.Registers;

/// <summary>
/// Computes what the guest reads from a register instead of the stored value (a counter
/// snapshot, a status assembled from device state). The result is still limited by the
/// register's read rule (<see cref="RegisterAccess.WriteOnly"/> reads 0), and
/// <see cref="RegisterAccess.ReadToClear"/> clears the stored bits after the hook returns.
/// </summary>
/// <param name="registers">The register file, for reading or setting related registers.</param>
/// <param name="read">Which register and element, its stored value and the bytes read.</param>
/// <returns>The dword the guest sees (only the bytes in <see cref="RegisterRead.ByteMask"/> reach it).</returns>
public delegate uint RegisterReadHook(RegisterFile registers, in RegisterRead read);

/// <summary>
/// Reacts to a guest write after the register file stored it under its rule and masks (start a
/// transmit on a tail write, raise causes on an ICS write, reset on CTRL.RST). The hook may
/// overwrite the stored value with <see cref="RegisterFile.Set"/> (self-clearing bits, vetoes).
/// </summary>
public delegate void RegisterWriteHook(RegisterFile registers, in RegisterWrite write);

/// <summary>A guest read of one register dword, as passed to a <see cref="RegisterReadHook"/>.</summary>
/// <param name="Offset">Byte offset of the register dword in the BAR.</param>
/// <param name="Name">Declared name.</param>
/// <param name="Element">Index in a register array; 0 for a single register.</param>
/// <param name="Value">Stored value.</param>
/// <param name="ByteMask">Bits of the bytes the guest reads (0x0000FF00 for a 1-byte read at offset+1).</param>
public readonly record struct RegisterRead(uint Offset, string Name, int Element, uint Value, uint ByteMask);

/// <summary>A guest write to one register dword, as passed to a <see cref="RegisterWriteHook"/>.</summary>
/// <param name="Offset">Byte offset of the register dword in the BAR.</param>
/// <param name="Name">Declared name.</param>
/// <param name="Element">Index in a register array; 0 for a single register.</param>
/// <param name="OldValue">Stored value before the write.</param>
/// <param name="NewValue">Stored value after the write rule and masks were applied.</param>
/// <param name="Written">The data the guest wrote, aligned to the dword; zero outside <paramref name="ByteMask"/>.</param>
/// <param name="ByteMask">Bits of the bytes the guest wrote.</param>
public readonly record struct RegisterWrite(uint Offset, string Name, int Element, uint OldValue, uint NewValue, uint Written, uint ByteMask);

/// <summary>
/// Declaration of one register or of a register array. Only <see cref="Offset"/> and
/// <see cref="Name"/> are required; the rest default to a plain read/write register that resets to 0.
/// </summary>
/// <param name="Offset">Byte offset of the (first) register in the BAR; a multiple of 4.</param>
/// <param name="Name">Name from the datasheet, e.g. "ICR" or "MTA".</param>
public readonly record struct RegisterSpec(uint Offset, string Name)
{
    /// <summary>Value after <see cref="RegisterFile.Reset"/> (every element of an array).</summary>
    public uint ResetValue { get; init; }

    /// <summary>Read and write rule.</summary>
    public RegisterAccess Access { get; init; }

    /// <summary>Bits the write rule applies to; the others keep their value on guest writes. All bits by default.</summary>
    public uint WriteMask { get; init; } = uint.MaxValue;

    /// <summary>
    /// Extra write-one-to-clear bits, for a dword that mixes rules: RTL8139 keeps IMR (RW) and ISR
    /// (W1C) in one dword at 0x3C, declared as ReadWrite with WriteMask 0x0000FFFF and this 0xFFFF0000.
    /// </summary>
    public uint ClearOnWriteMask { get; init; }

    /// <summary>Number of elements; more than 1 declares an array (e1000 MTA: 128 at 0x5200).</summary>
    public int Count { get; init; } = 1;

    /// <summary>Bytes from one element to the next; a multiple of 4 (e1000 RAL/RAH pairs: two arrays with stride 8).</summary>
    public uint Stride { get; init; } = 4;

    /// <summary>Optional read hook.</summary>
    public RegisterReadHook? OnRead { get; init; }

    /// <summary>Optional write hook, called after the value is stored.</summary>
    public RegisterWriteHook? OnWrite { get; init; }
}
