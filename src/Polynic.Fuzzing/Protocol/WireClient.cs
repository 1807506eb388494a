using System.Buffers.Binary;
using Polynic.Native;

namespace Polynic.Fuzzing.Protocol;

/// <summary>One message as the fuzzer received it from the server.</summary>
/// <param name="Id">Message ID.</param>
/// <param name="Command">Command number.</param>
/// <param name="Flags">Header flags (type in the low nibble, no-reply 0x10, error 0x20).</param>
/// <param name="Error">errno of an error reply.</param>
/// <param name="Payload">The bytes after the 16-byte header.</param>
internal readonly record struct WireMessage(ushort Id, ushort Command, uint Flags, uint Error, byte[] Payload)
{
    public bool IsReply => (Flags & 0xF) == WireFormat.TypeReply;
    public bool IsCommand => (Flags & 0xF) == WireFormat.TypeCommand;
}

/// <summary>
/// The vfio-user wire format as the spec (QEMU's docs/interop/vfio-user.rst) writes it, kept
/// apart from the server's own codec on purpose: the fuzzer must be able to say things the
/// server's codec never would.
/// </summary>
internal static class WireFormat
{
    public const int HeaderSize = 16;
    public const uint TypeCommand = 0, TypeReply = 1, NoReply = 0x10, Error = 0x20;

    public const ushort Version = 1, DmaMap = 2, DmaUnmap = 3, DeviceGetInfo = 4, DeviceGetRegionInfo = 5,
        DeviceGetRegionIoFds = 6, DeviceGetIrqInfo = 7, DeviceSetIrqs = 8, RegionRead = 9, RegionWrite = 10,
        DmaRead = 11, DmaWrite = 12, DeviceReset = 13, RegionWriteMulti = 15;

    /// <summary>Writes a header: message ID, command, size, flags, error.</summary>
    public static void WriteHeader(Span<byte> message, ushort id, ushort command, uint size, uint flags, uint error = 0)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(message, id);
        BinaryPrimitives.WriteUInt16LittleEndian(message[2..], command);
        BinaryPrimitives.WriteUInt32LittleEndian(message[4..], size);
        BinaryPrimitives.WriteUInt32LittleEndian(message[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(message[12..], error);
    }
}

/// <summary>
/// A raw AF_UNIX stream connection to a vfio-user server with SCM_RIGHTS, for the protocol
/// fuzzer: sends arbitrary bytes with arbitrary descriptors and reads whole messages with a
/// deadline. Knows nothing of the server's code.
/// </summary>
internal sealed unsafe class WireClient : IDisposable
{
    private const int MessageCompletionMilliseconds = 5000;
    private readonly FileDescriptor _socket;

    private WireClient(FileDescriptor socket) => _socket = socket;

    /// <summary>Connects; null if nothing accepts at <paramref name="path"/>.</summary>
    public static WireClient? TryConnect(string path)
    {
        var fd = new FileDescriptor(LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0));
        if (fd.IsInvalid) return null;
        Span<byte> address = stackalloc byte[110];
        address.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(address, LibC.AF_UNIX);
        int length = System.Text.Encoding.UTF8.GetBytes(path, address[2..108]);
        fixed (byte* a = address)
        {
            if (LibC.connect(fd, a, (uint)(2 + length + 1)) != 0)
            {
                fd.Dispose();
                return null;
            }
        }
        return new WireClient(fd);
    }

    /// <summary>Sends <paramref name="data"/> with <paramref name="fds"/> on its first byte; false once the server is gone.</summary>
    public bool Send(ReadOnlySpan<byte> data, ReadOnlySpan<int> fds = default)
    {
        int controlLength = fds.IsEmpty ? 0 : LibC.CmsgSpace(fds.Length);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        fixed (byte* d = data)
        {
            int sent = 0;
            while (sent < data.Length || (data.IsEmpty && sent == 0))
            {
                var iov = new LibC.IoVec { Base = d + sent, Length = (nuint)(data.Length - sent) };
                var message = new LibC.MsgHdr { Iov = &iov, IovLength = 1 };
                if (sent == 0 && !fds.IsEmpty)
                {
                    new Span<byte>(control, controlLength).Clear();
                    *(nuint*)control = (nuint)(LibC.CmsgHeaderSize + fds.Length * sizeof(int));
                    *(int*)(control + 8) = LibC.SOL_SOCKET;
                    *(int*)(control + 12) = LibC.SCM_RIGHTS;
                    fds.CopyTo(new Span<int>(control + LibC.CmsgHeaderSize, fds.Length));
                    message.Control = control;
                    message.ControlLength = (nuint)controlLength;
                }
                nint n = LibC.sendmsg(_socket, &message, LibC.MSG_NOSIGNAL);
                if (n < 0)
                {
                    if (LibC.LastErrno == Errno.EINTR) continue;
                    return false;
                }
                if (data.IsEmpty) return true;
                sent += (int)n;
            }
            return true;
        }
    }

    /// <summary>
    /// The next whole message, or null when the server closed the connection. Throws
    /// <see cref="TimeoutException"/> when no message began by <paramref name="deadline"/>
    /// (<see cref="Environment.TickCount64"/>) or one began and did not end within 5 s.
    /// </summary>
    public WireMessage? Receive(long deadline)
    {
        var head = new byte[WireFormat.HeaderSize];
        if (!ReadExactly(head, deadline)) return null;
        long rest = Environment.TickCount64 + MessageCompletionMilliseconds;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4));
        if (size < WireFormat.HeaderSize || size > 64 * 1024 * 1024) throw new InvalidDataException($"server sent a message of {size} bytes");
        var payload = new byte[size - WireFormat.HeaderSize];
        if (!ReadExactly(payload, rest)) return null;
        return new WireMessage(BinaryPrimitives.ReadUInt16LittleEndian(head), BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(2)),
            BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(12)), payload);
    }

    /// <summary>Whether the server has closed its end (reads would return end of stream) within <paramref name="milliseconds"/>.</summary>
    public bool IsClosedByServer(int milliseconds)
    {
        long deadline = Environment.TickCount64 + milliseconds;
        try
        {
            while (true)
            {
                if (Receive(deadline) is null) return true;
            }
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Reads all of <paramref name="buffer"/>; the first byte by <paramref name="deadline"/>, the rest within 5 s.</summary>
    private bool ReadExactly(Span<byte> buffer, long deadline)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            if (got > 0) deadline = Math.Max(deadline, Environment.TickCount64 + MessageCompletionMilliseconds);
            int wait = (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
            if (!Poll.WaitReadable(_socket, null, wait)) throw new TimeoutException("no message from the server in time");
            int n = ReceiveSome(buffer[got..]);
            if (n <= 0) return false;
            got += n;
        }
        return true;
    }

    private int ReceiveSome(Span<byte> buffer)
    {
        int controlLength = LibC.CmsgSpace(16);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                var iov = new LibC.IoVec { Base = b, Length = (nuint)buffer.Length };
                var message = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
                nint n = LibC.recvmsg(_socket, &message, LibC.MSG_CMSG_CLOEXEC);
                if (n < 0 && LibC.LastErrno == Errno.EINTR) continue;
                // The server sends no descriptors; any it did would be closed here, not leaked.
                CloseReceivedDescriptors(control, (int)message.ControlLength);
                return (int)n;
            }
        }
    }

    private static void CloseReceivedDescriptors(byte* control, int length)
    {
        int offset = 0;
        while (offset + LibC.CmsgHeaderSize <= length)
        {
            int cmsgLength = (int)*(nuint*)(control + offset);
            if (cmsgLength < LibC.CmsgHeaderSize || offset + cmsgLength > length) break;
            if (*(int*)(control + offset + 8) == LibC.SOL_SOCKET && *(int*)(control + offset + 12) == LibC.SCM_RIGHTS)
                for (int i = 0; i < (cmsgLength - LibC.CmsgHeaderSize) / sizeof(int); i++)
                    LibC.close(*(int*)(control + offset + LibC.CmsgHeaderSize + i * sizeof(int)));
            offset += (cmsgLength + 7) & ~7;
        }
    }
}
