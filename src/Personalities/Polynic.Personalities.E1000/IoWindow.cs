using System.Buffers.Binary;
using Polynic.Core.Nic.Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The I/O BAR's indirect register window (8254x SDM 13.2 "I/O-Mapped Internal Register Access"):
/// IOADDR at offset 0 names a BAR0 register, IODATA at offset 4 reads or writes it. Linux e1000
/// issues its 82540 reset through here (e1000_write_reg_io), so IODATA reaches the same register
/// dispatch, hooks included, as MMIO. Offsets 8 and up are reserved: read 0, writes ignored.
/// </summary>
internal sealed class IoWindow
{
    /// <summary>Size of the I/O BAR.</summary>
    public const int Size = 64;

    private const int AddressOffset = 0;
    private const int DataOffset = 4;

    // IOADDR holds a dword-aligned offset inside the 128 KiB register space (bits 16:2).
    private const uint AddressMask = 0x0001_FFFC;

    private readonly RegisterFile _registers;
    private uint _address;

    public IoWindow(RegisterFile registers) => _registers = registers;

    /// <summary>The register offset IODATA currently reaches.</summary>
    public uint Address => _address;

    public void Read(ulong offset, Span<byte> data)
    {
        Span<byte> window = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(window, _address);
        BinaryPrimitives.WriteUInt32LittleEndian(window[4..], 0);
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            data[i] = at < DataOffset ? window[(int)at] : (byte)0;
        }
        // The IODATA bytes come from one register access, so a read-to-clear register clears once.
        ulong first = Math.Max(offset, DataOffset);
        ulong end = Math.Min(offset + (ulong)data.Length, DataOffset + 4);
        if (first < end)
            _registers.Read(_address + (first - DataOffset), data.Slice((int)(first - offset), (int)(end - first)));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            if (at >= DataOffset) break;
            int shift = 8 * (int)at;
            _address = ((_address & ~(0xFFu << shift)) | (uint)data[i] << shift) & AddressMask;
        }
        ulong first = Math.Max(offset, DataOffset);
        ulong end = Math.Min(offset + (ulong)data.Length, DataOffset + 4);
        if (first < end)
            _registers.Write(_address + (first - DataOffset), data.Slice((int)(first - offset), (int)(end - first)));
    }

    public void Reset() => _address = 0;
}
