namespace Polynic.Core.Nic.Registers;

/// <summary>
/// A table-driven map of 32-bit registers over one BAR range: what QEMU's e1000 does with its
/// macreg_readops/writeops tables, but declared once (<see cref="Declare(RegisterSpec)"/>) and
/// served for every access width at any offset.
/// </summary>
/// <remarks>
/// <para>
/// Storage and dispatch are arrays indexed by offset / 4: an access costs two array loads and
/// no allocation. Accesses of any length are split into per-dword pieces; an 8-byte access is
/// two dwords, low dword first.
/// </para>
/// <para>
/// Partial accesses: a read returns the addressed bytes of the dword (little endian). A write
/// of fewer than 4 bytes merges into the dword: only bits in the written bytes
/// (<see cref="RegisterWrite.ByteMask"/>) are subject to the register's rule; the other bytes
/// keep their value. Read-to-clear clears only the bytes that were read.
/// </para>
/// <para>
/// Unknown offsets (not declared, or beyond the file) read 0 and ignore writes, as PCI requires of
/// unclaimed register space; each such dword piece is counted in <see cref="UnknownReads"/> or
/// <see cref="UnknownWrites"/>. Guest accesses never throw. Not thread-safe: the PCI core
/// serialises BAR accesses, and a personality that touches registers from other threads locks.
/// </para>
/// </remarks>
public sealed class RegisterFile
{
    private readonly uint[] _values;
    // Per dword: index into _definitions plus one; 0 means nothing is declared there.
    private readonly int[] _slots;
    private readonly List<Definition> _definitions = [];
    private long _unknownReads;
    private long _unknownWrites;

    /// <summary>Creates an empty map of <paramref name="sizeBytes"/> bytes (a multiple of 4, at most 16 MiB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Size not a positive multiple of 4 or too large.</exception>
    public RegisterFile(int sizeBytes)
    {
        if (sizeBytes <= 0 || sizeBytes % 4 != 0 || sizeBytes > 16 << 20)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "Size must be a positive multiple of 4 up to 16 MiB.");
        _values = new uint[sizeBytes / 4];
        _slots = new int[sizeBytes / 4];
    }

    /// <summary>Size of the mapped range in bytes.</summary>
    public int SizeBytes => _values.Length * 4;

    /// <summary>Guest reads of undeclared dwords (per dword piece).</summary>
    public long UnknownReads => _unknownReads;

    /// <summary>Guest writes to undeclared dwords (per dword piece).</summary>
    public long UnknownWrites => _unknownWrites;

    /// <summary>
    /// Declares a register or register array and sets it to its reset value. Declarations are made
    /// by the personality when it is built, never from guest input.
    /// </summary>
    /// <returns>This file, to chain declarations.</returns>
    /// <exception cref="ArgumentException">Misaligned offset or stride, a bad count, a range beyond the file, or overlap with an earlier declaration.</exception>
    public RegisterFile Declare(RegisterSpec spec)
    {
        if (string.IsNullOrEmpty(spec.Name)) throw new ArgumentException("A register needs a name.", nameof(spec));
        if (spec.Offset % 4 != 0) throw new ArgumentException($"{spec.Name}: offset 0x{spec.Offset:x} is not dword aligned.", nameof(spec));
        if (spec.Count < 1) throw new ArgumentException($"{spec.Name}: count must be at least 1.", nameof(spec));
        if (spec.Count > 1 && (spec.Stride < 4 || spec.Stride % 4 != 0))
            throw new ArgumentException($"{spec.Name}: stride must be a positive multiple of 4.", nameof(spec));
        ulong lastSlot = spec.Offset / 4 + (ulong)(spec.Count - 1) * (spec.Stride / 4);
        if (lastSlot >= (ulong)_values.Length)
            throw new ArgumentException($"{spec.Name}: ends beyond the {SizeBytes}-byte register file.", nameof(spec));
        var d = new Definition(spec);
        for (int i = 0; i < spec.Count; i++)
        {
            int slot = d.SlotOf(i);
            if (_slots[slot] != 0)
                throw new ArgumentException($"{spec.Name}: 0x{slot * 4:x} is already declared as {_definitions[_slots[slot] - 1].Spec.Name}.", nameof(spec));
        }
        _definitions.Add(d);
        for (int i = 0; i < spec.Count; i++)
        {
            int slot = d.SlotOf(i);
            _slots[slot] = _definitions.Count;
            _values[slot] = spec.ResetValue;
        }
        return this;
    }

    /// <summary>Declares one register; see <see cref="RegisterSpec"/> for the parameters.</summary>
    public RegisterFile Declare(uint offset, string name, uint resetValue = 0, RegisterAccess access = RegisterAccess.ReadWrite,
        uint writeMask = uint.MaxValue, RegisterReadHook? onRead = null, RegisterWriteHook? onWrite = null) =>
        Declare(new RegisterSpec(offset, name) { ResetValue = resetValue, Access = access, WriteMask = writeMask, OnRead = onRead, OnWrite = onWrite });

    /// <summary>Declares <paramref name="count"/> registers <paramref name="stride"/> bytes apart; see <see cref="RegisterSpec"/>.</summary>
    public RegisterFile DeclareArray(uint offset, int count, string name, uint resetValue = 0, RegisterAccess access = RegisterAccess.ReadWrite,
        uint writeMask = uint.MaxValue, uint stride = 4, RegisterReadHook? onRead = null, RegisterWriteHook? onWrite = null) =>
        Declare(new RegisterSpec(offset, name)
        {
            Count = count, Stride = stride, ResetValue = resetValue, Access = access, WriteMask = writeMask, OnRead = onRead, OnWrite = onWrite,
        });

    /// <summary>Returns every declared register to its reset value and undeclared space to 0. Counters are kept.</summary>
    public void Reset()
    {
        Array.Clear(_values);
        foreach (var d in _definitions)
            for (int i = 0; i < d.Spec.Count; i++) _values[d.SlotOf(i)] = d.Spec.ResetValue;
    }

    /// <summary>
    /// A guest read of <c>data.Length</c> bytes at <paramref name="offset"/> (any width, any
    /// alignment), applying read rules and hooks dword by dword. Never throws.
    /// </summary>
    public void Read(ulong offset, Span<byte> data)
    {
        int pos = 0;
        // Bounded by data.Length: each pass consumes 1..4 bytes.
        while (pos < data.Length)
        {
            ulong address = offset + (ulong)pos;
            int shift = (int)(address & 3);
            int n = Math.Min(4 - shift, data.Length - pos);
            uint byteMask = ByteMask(shift, n);
            uint value = address < offset ? Unknown(ref _unknownReads) : ReadDword(address >> 2, byteMask);
            for (int i = 0; i < n; i++) data[pos + i] = (byte)(value >> (8 * (shift + i)));
            pos += n;
        }
    }

    /// <summary>
    /// A guest write of <c>data.Length</c> bytes at <paramref name="offset"/>, merged into each
    /// dword under its write rule, then the write hooks run. Never throws.
    /// </summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        int pos = 0;
        while (pos < data.Length)
        {
            ulong address = offset + (ulong)pos;
            int shift = (int)(address & 3);
            int n = Math.Min(4 - shift, data.Length - pos);
            uint value = 0;
            for (int i = 0; i < n; i++) value |= (uint)data[pos + i] << (8 * (shift + i));
            if (address < offset) Unknown(ref _unknownWrites);
            else WriteDword(address >> 2, value, ByteMask(shift, n));
            pos += n;
        }
    }

    /// <summary>A guest read of a whole dword at <paramref name="offset"/> (must be dword aligned to hit one register).</summary>
    public uint Read32(ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        Read(offset, b);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>A guest write of a whole dword at <paramref name="offset"/>.</summary>
    public void Write32(ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Write(offset, b);
    }

    /// <summary>
    /// The stored value of the register dword at <paramref name="offset"/>, without read rules or
    /// hooks (the personality's own view). 0 if nothing is declared there.
    /// </summary>
    public uint Get(uint offset)
    {
        uint slot = offset >> 2;
        return slot < (uint)_values.Length && _slots[slot] != 0 ? _values[slot] : 0;
    }

    /// <summary>
    /// Stores <paramref name="value"/> in the register dword at <paramref name="offset"/>, bypassing
    /// write masks and hooks. Returns false (and stores nothing) if nothing is declared there.
    /// </summary>
    public bool Set(uint offset, uint value)
    {
        uint slot = offset >> 2;
        if (slot >= (uint)_values.Length || _slots[slot] == 0) return false;
        _values[slot] = value;
        return true;
    }

    /// <summary>Sets <paramref name="bits"/> in the stored value; false if nothing is declared at <paramref name="offset"/>.</summary>
    public bool SetBits(uint offset, uint bits) => Set(offset, Get(offset) | bits);

    /// <summary>Clears <paramref name="bits"/> in the stored value; false if nothing is declared at <paramref name="offset"/>.</summary>
    public bool ClearBits(uint offset, uint bits) => Set(offset, Get(offset) & ~bits);

    /// <summary>
    /// Stored value of element <paramref name="index"/> of the array declared at
    /// <paramref name="arrayOffset"/>; 0 if there is no such array or element.
    /// </summary>
    public uint GetElement(uint arrayOffset, int index) =>
        TryElementSlot(arrayOffset, index, out int slot) ? _values[slot] : 0;

    /// <summary>Stores element <paramref name="index"/> of an array, bypassing masks and hooks; false if there is no such element.</summary>
    public bool SetElement(uint arrayOffset, int index, uint value)
    {
        if (!TryElementSlot(arrayOffset, index, out int slot)) return false;
        _values[slot] = value;
        return true;
    }

    /// <summary>
    /// The stored values of the contiguous (stride 4) array declared at <paramref name="arrayOffset"/>,
    /// as a live view (e1000 MTA or VFTA read by a receive filter without copying). Empty if there
    /// is no such array or its stride is not 4.
    /// </summary>
    public Span<uint> GetArray(uint arrayOffset)
    {
        uint slot = arrayOffset >> 2;
        if (arrayOffset % 4 != 0 || slot >= (uint)_values.Length || _slots[slot] == 0) return default;
        var d = _definitions[_slots[slot] - 1];
        if (d.FirstSlot != slot || (d.Spec.Count > 1 && d.Spec.Stride != 4)) return default;
        return _values.AsSpan((int)slot, d.Spec.Count);
    }

    /// <summary>Whether a register is declared at the dword containing <paramref name="offset"/>.</summary>
    public bool IsDeclared(ulong offset) => offset >> 2 < (ulong)_values.Length && _slots[offset >> 2] != 0;

    /// <summary>Declared name of the register at <paramref name="offset"/>, with "[n]" for array elements; null if none.</summary>
    public string? NameAt(ulong offset)
    {
        if (!IsDeclared(offset)) return null;
        int slot = (int)(offset >> 2);
        var d = _definitions[_slots[slot] - 1];
        return d.Spec.Count == 1 ? d.Spec.Name : $"{d.Spec.Name}[{d.ElementOf(slot)}]";
    }

    private uint ReadDword(ulong slot, uint byteMask)
    {
        if (slot >= (ulong)_slots.Length || _slots[slot] == 0) return Unknown(ref _unknownReads);
        var d = _definitions[_slots[slot] - 1];
        uint value = _values[slot];
        if (d.Spec.OnRead is { } hook)
            value = hook(this, new RegisterRead((uint)slot * 4, d.Spec.Name, d.ElementOf((int)slot), value, byteMask));
        value &= d.ReadMask;
        if (d.ClearOnReadMask != 0) _values[slot] &= ~(d.ClearOnReadMask & byteMask);
        return value;
    }

    private void WriteDword(ulong slot, uint data, uint byteMask)
    {
        if (slot >= (ulong)_slots.Length || _slots[slot] == 0) { Unknown(ref _unknownWrites); return; }
        var d = _definitions[_slots[slot] - 1];
        uint old = _values[slot];
        uint set = d.StoreMask & byteMask;
        uint value = (old & ~set) | (data & set);
        value &= ~(data & d.ClearOnWriteMask & byteMask);
        _values[slot] = value;
        d.Spec.OnWrite?.Invoke(this, new RegisterWrite((uint)slot * 4, d.Spec.Name, d.ElementOf((int)slot), old, value, data & byteMask, byteMask));
    }

    private bool TryElementSlot(uint arrayOffset, int index, out int slot)
    {
        slot = 0;
        uint first = arrayOffset >> 2;
        if (arrayOffset % 4 != 0 || first >= (uint)_values.Length || _slots[first] == 0) return false;
        var d = _definitions[_slots[first] - 1];
        if (d.FirstSlot != first || (uint)index >= (uint)d.Spec.Count) return false;
        slot = d.SlotOf(index);
        return true;
    }

    private static uint ByteMask(int shift, int count) =>
        (count >= 4 ? uint.MaxValue : (1u << (8 * count)) - 1) << (8 * shift);

    private static uint Unknown(ref long counter)
    {
        counter++;
        return 0;
    }

    private sealed class Definition
    {
        public Definition(RegisterSpec spec)
        {
            Spec = spec;
            FirstSlot = spec.Offset / 4;
            StrideSlots = spec.Count > 1 ? (int)(spec.Stride / 4) : 1;
            ReadMask = spec.Access == RegisterAccess.WriteOnly ? 0 : uint.MaxValue;
            StoreMask = spec.Access is RegisterAccess.ReadWrite or RegisterAccess.WriteOnly ? spec.WriteMask : 0;
            ClearOnWriteMask = spec.ClearOnWriteMask
                | (spec.Access is RegisterAccess.ReadToClear or RegisterAccess.WriteOneToClear ? spec.WriteMask : 0);
            ClearOnReadMask = spec.Access == RegisterAccess.ReadToClear ? uint.MaxValue : 0;
            if (spec.Access == RegisterAccess.ReadOnly) ClearOnWriteMask = 0;
        }

        public RegisterSpec Spec { get; }
        public uint FirstSlot { get; }
        public int StrideSlots { get; }
        public uint ReadMask { get; }
        public uint StoreMask { get; }
        public uint ClearOnWriteMask { get; }
        public uint ClearOnReadMask { get; }

        public int SlotOf(int element) => (int)FirstSlot + element * StrideSlots;
        public int ElementOf(int slot) => (slot - (int)FirstSlot) / StrideSlots;
    }
}
