using System.Buffers.Binary;

namespace Polynic.Transport.VfioUser.Protocol;

/// <summary>VFIO_USER_DMA_MAP payload (spec: 32 bytes; the file descriptor, if any, is ancillary data).</summary>
internal readonly record struct DmaMapRequest(uint ArgSize, uint Flags, ulong FileOffset, ulong Address, ulong Length)
{
    public const int Size = 32;

    public static DmaMapRequest Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[8..]), BinaryPrimitives.ReadUInt64LittleEndian(s[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[24..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], FileOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Address);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Length);
    }
}

/// <summary>VFIO_USER_DMA_UNMAP payload, request and reply (24 bytes).</summary>
internal readonly record struct DmaUnmapRequest(uint ArgSize, uint Flags, ulong Address, ulong Length)
{
    public const int Size = 24;

    public static DmaUnmapRequest Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[8..]), BinaryPrimitives.ReadUInt64LittleEndian(s[16..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Address);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Length);
    }
}

/// <summary>
/// Byte layout of VFIO_USER_DMA_READ/WRITE, which differs between the spec and QEMU's client.
/// </summary>
/// <remarks>
/// The spec (docs/interop/vfio-user.rst, "VFIO_USER_DMA_READ") has an 8-byte address, an
/// 8-byte count and data at payload offset 16. QEMU's client (hw/vfio-user/protocol.h,
/// VFIOUserDMARW) declares the count as uint32_t, so data sits at payload offset 12 and the C
/// struct's trailing padding makes every message 4 bytes longer than its data needs
/// (hdr.size = 32 + count). QEMU checks hdr.size against that padded size and copies data from
/// offset 12; a spec-layout DMA_WRITE would land 4 bytes off in guest memory.
/// </remarks>
public enum DmaMessageLayout
{
    /// <summary>QEMU's client (10.1 and later): 4-byte count, data at payload offset 12, message padded to 32 + count bytes.</summary>
    Qemu,

    /// <summary>The written specification (and libvfio-user): 8-byte count, data at payload offset 16.</summary>
    Specification,
}

/// <summary>Encodes and decodes the DMA_READ/WRITE fixed part for a <see cref="DmaMessageLayout"/>.</summary>
internal readonly struct DmaAccessFormat(DmaMessageLayout layout)
{
    /// <summary>Offset of the data from the start of the message (header included).</summary>
    public int DataOffset => MessageHeader.Size + (layout == DmaMessageLayout.Qemu ? 12 : 16);

    /// <summary>Bytes of a message that carries <paramref name="count"/> data bytes (request of DMA_WRITE, reply of DMA_READ).</summary>
    public int MessageSize(int count) => MessageHeader.Size + 16 + count;

    /// <summary>Writes address and count after the header.</summary>
    public void WriteFixedPart(Span<byte> message, ulong address, int count)
    {
        var payload = message[MessageHeader.Size..];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, address);
        if (layout == DmaMessageLayout.Qemu)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], (uint)count);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(payload[8..], (ulong)count);
        }
    }

    /// <summary>Reads the count field of a message (a DMA_READ reply).</summary>
    public ulong ReadCount(ReadOnlySpan<byte> message)
    {
        var payload = message[MessageHeader.Size..];
        return layout == DmaMessageLayout.Qemu
            ? BinaryPrimitives.ReadUInt32LittleEndian(payload[8..])
            : BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]);
    }
}
