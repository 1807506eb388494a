using System.Buffers.Binary;

namespace Polynic.Transport.VfioUser.Protocol;

/// <summary>vfio-user command numbers (spec, "Commands").</summary>
internal enum Command : ushort
{
    Version = 1,
    DmaMap = 2,
    DmaUnmap = 3,
    DeviceGetInfo = 4,
    DeviceGetRegionInfo = 5,
    DeviceGetRegionIoFds = 6,
    DeviceGetIrqInfo = 7,
    DeviceSetIrqs = 8,
    RegionRead = 9,
    RegionWrite = 10,
    DmaRead = 11,
    DmaWrite = 12,
    DeviceReset = 13,
    RegionWriteMulti = 15,
}

/// <summary>Header flag bits (spec, "Header").</summary>
[Flags]
internal enum MessageFlags : uint
{
    /// <summary>Type 0: a command.</summary>
    Command = 0x0,

    /// <summary>Type 1: a reply to the command with the same message ID.</summary>
    Reply = 0x1,

    /// <summary>Bits 0-3 hold the type.</summary>
    TypeMask = 0xF,

    /// <summary>The sender wants no reply (posted writes).</summary>
    NoReply = 0x10,

    /// <summary>In a reply: the command failed; <see cref="MessageHeader.Error"/> holds an errno.</summary>
    Error = 0x20,
}

/// <summary>The 16-byte header in front of every vfio-user message, little-endian (spec, "Header").</summary>
/// <param name="MessageId">Chosen by the sender, echoed in the reply.</param>
/// <param name="Command">What the message does.</param>
/// <param name="MessageSize">Size of the whole message including this header.</param>
/// <param name="Flags">Type, No_reply and Error bits.</param>
/// <param name="Error">errno in an error reply; reserved otherwise.</param>
internal readonly record struct MessageHeader(ushort MessageId, Command Command, uint MessageSize, MessageFlags Flags, uint Error)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Size = 16;

    /// <summary>Whether the type bits say "reply".</summary>
    public bool IsReply => (Flags & MessageFlags.TypeMask) == MessageFlags.Reply;

    /// <summary>Whether the type bits say "command".</summary>
    public bool IsCommand => (Flags & MessageFlags.TypeMask) == MessageFlags.Command;

    /// <summary>Whether the sender asked for no reply.</summary>
    public bool WantsNoReply => (Flags & MessageFlags.NoReply) != 0;

    /// <summary>Whether an error reply.</summary>
    public bool IsError => (Flags & MessageFlags.Error) != 0;

    /// <summary>Decodes the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static MessageHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(source),
        (Command)BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        (MessageFlags)BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));

    /// <summary>Encodes into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, MessageId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)Command);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], MessageSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Error);
    }

    /// <summary>The reply header for this command: same ID and command, Reply type.</summary>
    public MessageHeader ToReply(int size) => new(MessageId, Command, (uint)size, MessageFlags.Reply, 0);

    /// <summary>The error reply header for this command (the spec: an error reply is the header only).</summary>
    public MessageHeader ToErrorReply(int errno) => new(MessageId, Command, Size, MessageFlags.Reply | MessageFlags.Error, (uint)errno);
}
