using System.Buffers.Binary;

namespace Polynic.Ports.Capture;

/// <summary>
/// Encodes the three pcapng blocks a capture needs (draft-ietf-opsawg-pcapng, section 4:
/// Section Header Block, Interface Description Block, Enhanced Packet Block) into a caller's
/// buffer, little-endian (the byte-order magic tells readers which order was used). Every block
/// and option is padded to 32 bits and ends with its total length repeated, so readers can walk
/// backwards too.
/// </summary>
internal static class PcapngBlocks
{
    /// <summary>Largest snap length Wireshark accepts for Ethernet (WTAP_MAX_PACKET_SIZE_STANDARD).</summary>
    public const int MaxSnapLength = 262_144;

    /// <summary>Fixed part of an Enhanced Packet Block before the packet data: type, length, interface, 2 × timestamp, 2 × lengths.</summary>
    public const int PacketHeaderLength = 28;

    /// <summary>Option area after the data (epb_flags 4+4, opt_endofopt 4) plus the trailing block length.</summary>
    public const int PacketTrailerLength = 16;

    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint InterfaceDescriptionType = 0x00000001;
    private const uint EnhancedPacketType = 0x00000006;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort LinkTypeEthernet = 1; // LINKTYPE_ETHERNET, draft-ietf-opsawg-pcaplinktype

    private const ushort OptionEnd = 0;
    private const ushort OptionShbUserApplication = 4;
    private const ushort OptionIfName = 2;
    private const ushort OptionIfTimestampResolution = 9;
    private const ushort OptionEpbFlags = 2;

    /// <summary><paramref name="length"/> rounded up to a multiple of 4.</summary>
    public static int Pad4(int length) => (length + 3) & ~3;

    public static int SectionHeaderLength(int applicationLength) =>
        24 + OptionLength(applicationLength) + 4 + 4;

    public static int InterfaceDescriptionLength(int nameLength) =>
        16 + OptionLength(nameLength) + OptionLength(1) + 4 + 4;

    public static int PacketBlockLength(int capturedLength) =>
        PacketHeaderLength + Pad4(capturedLength) + PacketTrailerLength;

    /// <summary>Section Header Block, version 1.0, section length unknown (-1): the file is written as a stream.</summary>
    public static int WriteSectionHeader(Span<byte> destination, ReadOnlySpan<byte> application)
    {
        int length = SectionHeaderLength(application.Length);
        var block = destination[..length];
        BinaryPrimitives.WriteUInt32LittleEndian(block, SectionHeaderType);
        BinaryPrimitives.WriteInt32LittleEndian(block[4..], length);
        BinaryPrimitives.WriteUInt32LittleEndian(block[8..], ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(block[12..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(block[14..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(block[16..], -1);
        int at = 24 + WriteOption(block[24..], OptionShbUserApplication, application);
        at += WriteOption(block[at..], OptionEnd, default);
        BinaryPrimitives.WriteInt32LittleEndian(block[at..], length);
        return length;
    }

    /// <summary>Interface Description Block for an Ethernet interface with if_name and if_tsresol.</summary>
    public static int WriteInterfaceDescription(Span<byte> destination, ReadOnlySpan<byte> name, int snapLength,
        PcapngTimestampResolution resolution)
    {
        int length = InterfaceDescriptionLength(name.Length);
        var block = destination[..length];
        BinaryPrimitives.WriteUInt32LittleEndian(block, InterfaceDescriptionType);
        BinaryPrimitives.WriteInt32LittleEndian(block[4..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], LinkTypeEthernet);
        BinaryPrimitives.WriteUInt16LittleEndian(block[10..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(block[12..], snapLength);
        int at = 16 + WriteOption(block[16..], OptionIfName, name);
        // if_tsresol: most significant bit clear, so the value is a negative power of 10.
        ReadOnlySpan<byte> exponent = [(byte)resolution];
        at += WriteOption(block[at..], OptionIfTimestampResolution, exponent);
        at += WriteOption(block[at..], OptionEnd, default);
        BinaryPrimitives.WriteInt32LittleEndian(block[at..], length);
        return length;
    }

    /// <summary>The fixed part of an Enhanced Packet Block; the packet data follows, then <see cref="WritePacketTrailer"/>.</summary>
    public static void WritePacketHeader(Span<byte> destination, int blockLength, int interfaceId, ulong timestamp,
        int capturedLength, int originalLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, EnhancedPacketType);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], blockLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], interfaceId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)(timestamp >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)timestamp);
        BinaryPrimitives.WriteInt32LittleEndian(destination[20..], capturedLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], originalLength);
    }

    /// <summary>
    /// Padding after <paramref name="capturedLength"/> data bytes, the epb_flags option and the
    /// trailing length. Returns the bytes written (padding + <see cref="PacketTrailerLength"/>).
    /// </summary>
    public static int WritePacketTrailer(Span<byte> destination, int capturedLength, uint flags, int blockLength)
    {
        int padding = Pad4(capturedLength) - capturedLength;
        destination[..padding].Clear();
        var trailer = destination[padding..];
        BinaryPrimitives.WriteUInt16LittleEndian(trailer, OptionEpbFlags);
        BinaryPrimitives.WriteUInt16LittleEndian(trailer[2..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[8..], OptionEnd);
        BinaryPrimitives.WriteInt32LittleEndian(trailer[12..], blockLength);
        return padding + PacketTrailerLength;
    }

    /// <summary>
    /// The epb_flags word: direction in bits 0-1 and the reception type in bits 2-4 (unicast 1,
    /// multicast 2, broadcast 3), the latter read from the destination MAC.
    /// </summary>
    public static uint PacketFlags(CaptureDirection direction, ReadOnlySpan<byte> frame)
    {
        uint reception = 0;
        if (frame.Length >= 6)
        {
            if (frame[..6].IndexOfAnyExcept((byte)0xFF) < 0) reception = 3;
            else if ((frame[0] & 1) != 0) reception = 2;
            else reception = 1;
        }
        return (uint)direction & 3 | reception << 2;
    }

    // An absent option (empty value) takes no space: every option here is optional.
    private static int OptionLength(int valueLength) => valueLength == 0 ? 0 : 4 + Pad4(valueLength);

    private static int WriteOption(Span<byte> destination, ushort code, ReadOnlySpan<byte> value)
    {
        if (code != OptionEnd && value.IsEmpty) return 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination, code);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)value.Length);
        value.CopyTo(destination[4..]);
        int padded = Pad4(value.Length);
        destination.Slice(4 + value.Length, padded - value.Length).Clear();
        return 4 + padded;
    }
}
