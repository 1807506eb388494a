using System.Buffers.Binary;

namespace Polynic.Transport.VfioUser.Protocol;

/// <summary>VFIO_USER_DEVICE_GET_INFO payload, request and reply (struct vfio_device_info, 16 bytes).</summary>
internal readonly record struct DeviceInfo(uint ArgSize, uint Flags, uint RegionCount, uint IrqCount)
{
    public const int Size = 16;

    public static DeviceInfo Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]), BinaryPrimitives.ReadUInt32LittleEndian(s[12..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], RegionCount);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], IrqCount);
    }
}

/// <summary>VFIO_USER_DEVICE_GET_REGION_INFO payload (struct vfio_region_info, 32 bytes without capabilities).</summary>
internal readonly record struct RegionInfo(uint ArgSize, uint Flags, uint Index, uint CapabilityOffset, ulong RegionSize, ulong Offset)
{
    public const int Size = 32;

    public static RegionInfo Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]), BinaryPrimitives.ReadUInt32LittleEndian(s[12..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[16..]), BinaryPrimitives.ReadUInt64LittleEndian(s[24..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Index);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], CapabilityOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], RegionSize);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Offset);
    }
}

/// <summary>VFIO_USER_DEVICE_GET_IRQ_INFO payload (struct vfio_irq_info, 16 bytes).</summary>
internal readonly record struct IrqInfo(uint ArgSize, uint Flags, uint Index, uint Count)
{
    public const int Size = 16;

    public static IrqInfo Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]), BinaryPrimitives.ReadUInt32LittleEndian(s[12..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Index);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Count);
    }
}

/// <summary>VFIO_USER_DEVICE_SET_IRQS fixed part (struct vfio_irq_set without data, 20 bytes).</summary>
internal readonly record struct IrqSet(uint ArgSize, uint Flags, uint Index, uint Start, uint Count)
{
    public const int Size = 20;

    public uint DataKind => Flags & VfioConstants.IrqSetDataMask;

    public uint Action => Flags & VfioConstants.IrqSetActionMaskAll;

    public static IrqSet Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]), BinaryPrimitives.ReadUInt32LittleEndian(s[12..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[16..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, ArgSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Index);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Start);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], Count);
    }
}

/// <summary>VFIO_USER_REGION_READ/WRITE fixed part: offset, region, count (16 bytes); data follows.</summary>
internal readonly record struct RegionAccess(ulong Offset, uint Region, uint Count)
{
    public const int Size = 16;

    public static RegionAccess Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[12..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Region);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Count);
    }
}
