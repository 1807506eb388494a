using System.Buffers.Binary;

namespace Polynic.Core.Interrupts;

/// <summary>
/// MSI-X table entries and pending bits (PCI 3.0, section 6.8.2.6-6.8.2.10). Each entry is
/// Message Address (64-bit), Message Data and Vector Control; the mask bit in Vector Control
/// is set at reset, so no vector fires before the guest programs and unmasks it.
/// </summary>
internal sealed class MsixTable
{
    private const int EntrySize = 16;
    private const uint VectorMasked = 1;
    private readonly byte[] _entries;
    private readonly ulong[] _pending;

    public MsixTable(int vectors)
    {
        Vectors = vectors;
        _entries = new byte[vectors * EntrySize];
        _pending = new ulong[(vectors + 63) / 64];
        Reset();
    }

    public int Vectors { get; }

    public void Reset()
    {
        Array.Clear(_entries);
        Array.Clear(_pending);
        for (int v = 0; v < Vectors; v++)
            BinaryPrimitives.WriteUInt32LittleEndian(_entries.AsSpan(v * EntrySize + 12), VectorMasked);
    }

    public bool IsMasked(int vector) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(_entries.AsSpan(vector * EntrySize + 12)) & VectorMasked) != 0;

    public MsiMessage Message(int vector)
    {
        var e = _entries.AsSpan(vector * EntrySize);
        return new MsiMessage(BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[8..]));
    }

    public bool IsPending(int vector) => (_pending[vector >> 6] & (1UL << (vector & 63))) != 0;

    public void SetPending(int vector, bool pending)
    {
        if (pending) _pending[vector >> 6] |= 1UL << (vector & 63);
        else _pending[vector >> 6] &= ~(1UL << (vector & 63));
    }

    public void ReadTable(uint offset, Span<byte> data) => Copy(_entries, offset, data);

    /// <summary>Writes table bytes; only bit 0 of Vector Control is writable, the rest of it is reserved.</summary>
    public void WriteTable(uint offset, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            long at = offset + (long)i;
            if (at >= _entries.Length) break;
            int field = (int)(at % EntrySize);
            byte mask = field switch { 12 => 0x01, 13 or 14 or 15 => 0x00, _ => 0xFF };
            _entries[at] = (byte)((_entries[at] & ~mask) | (data[i] & mask));
        }
    }

    public void ReadPendingBits(uint offset, Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            long at = offset + (long)i;
            int word = (int)(at / 8);
            data[i] = word < _pending.Length ? (byte)(_pending[word] >> (int)(8 * (at % 8))) : (byte)0;
        }
    }

    private static void Copy(byte[] source, uint offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= source.Length) return;
        int n = (int)Math.Min(data.Length, source.Length - offset);
        source.AsSpan((int)offset, n).CopyTo(data);
    }
}
