using System.Buffers.Binary;

namespace Polynic.Core.Pci;

/// <summary>
/// 256 bytes of type-0 configuration space with a per-byte write mask and a per-byte
/// write-one-to-clear mask. Reserved and read-only bits simply have neither mask bit set,
/// so a guest write can never change them (PCI 3.0, section 6.1: reserved bits read as zero
/// and ignore writes).
/// </summary>
internal sealed class ConfigSpace
{
    private readonly byte[] _value = new byte[PciFunction.ConfigSpaceSize];
    private readonly byte[] _writable = new byte[PciFunction.ConfigSpaceSize];
    private readonly byte[] _writeOneToClear = new byte[PciFunction.ConfigSpaceSize];
    private byte[] _powerOn = [];

    public ReadOnlySpan<byte> Bytes => _value;

    /// <summary>Defines a field's power-on value and which of its bits the guest may write or clear.</summary>
    public void Define(int offset, int width, uint value, uint writable = 0, uint writeOneToClear = 0)
    {
        for (int i = 0; i < width; i++)
        {
            _value[offset + i] = (byte)(value >> (8 * i));
            _writable[offset + i] = (byte)(writable >> (8 * i));
            _writeOneToClear[offset + i] = (byte)(writeOneToClear >> (8 * i));
        }
    }

    /// <summary>Remembers the current contents as the power-on state <see cref="Reset"/> returns to.</summary>
    public void Seal() => _powerOn = (byte[])_value.Clone();

    public void Reset() => _powerOn.CopyTo(_value, 0);

    public void Read(int offset, Span<byte> data) => _value.AsSpan(offset, data.Length).CopyTo(data);

    /// <summary>Applies a guest write byte by byte: RW bits take the new value, W1C bits clear where a 1 is written.</summary>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            int at = offset + i;
            byte written = data[i];
            byte kept = (byte)(_value[at] & ~_writable[at]);
            byte next = (byte)(kept | (written & _writable[at]));
            next &= (byte)~(written & _writeOneToClear[at]);
            _value[at] = next;
        }
    }

    /// <summary>Stores bytes on the device side (a value the device supplies), ignoring masks.</summary>
    public void Store(int offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(_value.AsSpan(offset));

    /// <summary>Sets or clears bits on the device side (status bits the hardware drives), ignoring masks.</summary>
    public void SetBits16(int offset, ushort bits, bool on)
    {
        ushort v = U16(offset);
        v = on ? (ushort)(v | bits) : (ushort)(v & ~bits);
        BinaryPrimitives.WriteUInt16LittleEndian(_value.AsSpan(offset), v);
    }

    public ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_value.AsSpan(offset));

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_value.AsSpan(offset));
}
