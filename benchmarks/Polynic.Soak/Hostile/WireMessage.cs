using System.Buffers.Binary;

namespace Polynic.Soak.Hostile;

/// <summary>
/// The vfio-user wire format as the attacker writes it, from the protocol specification
/// (docs/devel/vfio-user.rst in QEMU): a 16-byte header — message id u16, command u16, message
/// size u32 (header included), flags u32 (type in bits 0-3: 0 command, 1 reply; bit 4 no reply;
/// bit 5 error), error u32 — then the command's payload, little-endian throughout.
/// </summary>
internal static class WireMessage
{
    public const int HeaderSize = 16;

    public const ushort Version = 1, DmaMap = 2, DmaUnmap = 3, DeviceGetInfo = 4, SetIrqs = 8,
        RegionRead = 9, RegionWrite = 10, DmaRead = 11, DmaWrite = 12;

    public const uint TypeReply = 1, FlagNoReply = 0x10, FlagError = 0x20;

    /// <summary>VFIO_PCI_CONFIG_REGION_INDEX.</summary>
    public const uint ConfigRegion = 7;

    /// <summary>VFIO_PCI_INTX_IRQ_INDEX; VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER.</summary>
    public const uint IntxIndex = 0, IrqEventFdTrigger = 4 | 32;

    /// <summary>VFIO_USER_F_DMA_REGION_READ | WRITE; VFIO_DMA_UNMAP_FLAG_ALL.</summary>
    public const uint DmaReadWrite = 3, UnmapAll = 2;

    public static byte[] Build(ushort id, ushort command, ReadOnlySpan<byte> payload, uint flags = 0)
    {
        var message = new byte[HeaderSize + payload.Length];
        WriteHeader(message, id, command, (uint)message.Length, flags, 0);
        payload.CopyTo(message.AsSpan(HeaderSize));
        return message;
    }

    public static void WriteHeader(Span<byte> to, ushort id, ushort command, uint size, uint flags, uint error)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(to, id);
        BinaryPrimitives.WriteUInt16LittleEndian(to[2..], command);
        BinaryPrimitives.WriteUInt32LittleEndian(to[4..], size);
        BinaryPrimitives.WriteUInt32LittleEndian(to[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(to[12..], error);
    }

    public static byte[] VersionPayload(ushort major = 0, ushort minor = 0,
        string json = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}")
    {
        var text = System.Text.Encoding.UTF8.GetBytes(json + "\0");
        var payload = new byte[4 + text.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, major);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(2), minor);
        text.CopyTo(payload, 4);
        return payload;
    }

    /// <summary>struct vfio_user_region_access: offset u64, region u32, count u32, data.</summary>
    public static byte[] RegionAccess(uint region, ulong offset, uint count, ReadOnlySpan<byte> data = default)
    {
        var payload = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), region);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), count);
        data.CopyTo(payload.AsSpan(16));
        return payload;
    }

    /// <summary>struct vfio_user_dma_map: argsz u32, flags u32, offset u64, address u64, size u64.</summary>
    public static byte[] DmaMapPayload(ulong address, ulong size, ulong fileOffset = 0, uint flags = DmaReadWrite)
    {
        var payload = new byte[32];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 32);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), fileOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(16), address);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(24), size);
        return payload;
    }

    /// <summary>struct vfio_user_dma_unmap: argsz u32, flags u32, address u64, size u64.</summary>
    public static byte[] DmaUnmapPayload(ulong address, ulong size, uint flags = 0)
    {
        var payload = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 24);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), address);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(16), size);
        return payload;
    }

    /// <summary>struct vfio_irq_set: argsz u32, flags u32, index u32, start u32, count u32.</summary>
    public static byte[] IrqSetPayload(uint index, uint start, uint count, uint flags)
    {
        var payload = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 20);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), index);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), start);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(16), count);
        return payload;
    }
}
