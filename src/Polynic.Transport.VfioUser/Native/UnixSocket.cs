using System.Text;
using Polynic.Native;

namespace Polynic.Transport.VfioUser.Native;

/// <summary>
/// AF_UNIX stream sockets with SCM_RIGHTS descriptor passing: what vfio-user runs on
/// (spec, "Socket": file descriptors travel as SCM_RIGHTS ancillary data).
/// </summary>
internal static unsafe class UnixSocket
{
    /// <summary>sun_path is 108 bytes including the terminating NUL.</summary>
    public const int MaxPathBytes = 107;

    /// <summary>
    /// Creates, binds and listens on a socket at <paramref name="path"/>, readable and writable by
    /// its owner only (0600): whoever can connect drives the device and its DMA, so access is
    /// granted by the owner (chown/chmod, or a directory the VMM's user may enter), never by the umask.
    /// </summary>
    /// <exception cref="IOException">The path is too long, exists, or the socket cannot be created.</exception>
    public static FileDescriptor Listen(string path, int backlog)
    {
        var fd = NewSocket();
        try
        {
            Span<byte> address = stackalloc byte[110];
            int length = FillAddress(address, path);
            fixed (byte* a = address)
                FileDescriptor.Check(LibC.bind(fd, a, (uint)length), $"bind({path})");
            // Before listen: until then nobody can connect, so no one slips in under the umask's mode.
            FileDescriptor.Check(LibC.chmod(path, 0b110_000_000) /* 0600 */, $"chmod({path})");
            FileDescriptor.Check(LibC.listen(fd, backlog), $"listen({path})");
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Connects to the socket at <paramref name="path"/> (the client side; used by tests and tools).</summary>
    public static FileDescriptor Connect(string path)
    {
        var fd = NewSocket();
        try
        {
            Span<byte> address = stackalloc byte[110];
            int length = FillAddress(address, path);
            fixed (byte* a = address)
                FileDescriptor.Check(LibC.connect(fd, a, (uint)length), $"connect({path})");
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Accepts one connection; blocks. Throws <see cref="IOException"/> when the listener was shut down.</summary>
    public static FileDescriptor Accept(FileDescriptor listener)
    {
        while (true)
        {
            int fd = LibC.accept4(listener, null, null, LibC.SOCK_CLOEXEC);
            if (fd >= 0) return new FileDescriptor(fd);
            int errno = LibC.LastErrno;
            if (errno != Errno.EINTR) throw new IOException($"accept failed: {Errno.Describe(errno)}");
        }
    }

    /// <summary>
    /// Makes a send that cannot go on for <paramref name="timeout"/> (the peer stopped reading)
    /// fail with EAGAIN instead of blocking for ever. False if the option could not be set.
    /// </summary>
    public static bool TrySetSendTimeout(FileDescriptor socket, TimeSpan timeout)
    {
        long micros = (long)timeout.TotalMicroseconds;
        var value = new LibC.TimeVal { Seconds = micros / 1_000_000, Microseconds = micros % 1_000_000 };
        return LibC.setsockopt(socket, LibC.SOL_SOCKET, LibC.SO_SNDTIMEO, &value, (uint)sizeof(LibC.TimeVal)) == 0;
    }

    /// <summary>
    /// Sends all of <paramref name="data"/>; the descriptors in <paramref name="fds"/> go with
    /// the first byte. Throws <see cref="IOException"/> when the peer is gone.
    /// </summary>
    public static void Send(FileDescriptor socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds = default)
    {
        int controlLength = fds.IsEmpty ? 0 : LibC.CmsgSpace(fds.Length);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        fixed (byte* d = data)
        {
            int sent = 0;
            while (sent < data.Length)
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
                nint n = LibC.sendmsg(socket, &message, LibC.MSG_NOSIGNAL);
                if (n < 0)
                {
                    int errno = LibC.LastErrno;
                    if (errno == Errno.EINTR) continue;
                    throw new IOException($"sendmsg failed: {Errno.Describe(errno)}");
                }
                sent += (int)n;
            }
        }
    }

    /// <summary>
    /// Receives up to <c>data.Length</c> bytes. Descriptors that arrive are appended to
    /// <paramref name="fds"/> from index <paramref name="fdCount"/>; any that do not fit are
    /// closed at once and counted in <paramref name="droppedFds"/>. Returns 0 at end of stream;
    /// throws <see cref="IOException"/> on a socket error.
    /// </summary>
    public static int Receive(FileDescriptor socket, Span<byte> data, Span<int> fds, ref int fdCount, ref int droppedFds)
    {
        // Room for more descriptors than anyone may send, so that extras are received (and
        // closed here) rather than silently discarded by the kernel with MSG_CTRUNC.
        const int ControlFds = 64;
        int controlLength = LibC.CmsgSpace(ControlFds);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* d = data)
        {
            while (true)
            {
                var iov = new LibC.IoVec { Base = d, Length = (nuint)data.Length };
                var message = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
                nint n = LibC.recvmsg(socket, &message, LibC.MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    int errno = LibC.LastErrno;
                    if (errno == Errno.EINTR) continue;
                    throw new IOException($"recvmsg failed: {Errno.Describe(errno)}");
                }
                if ((message.Flags & LibC.MSG_CTRUNC) != 0) droppedFds++;
                CollectDescriptors(control, (int)message.ControlLength, fds, ref fdCount, ref droppedFds);
                return (int)n;
            }
        }
    }

    private static void CollectDescriptors(byte* control, int length, Span<int> fds, ref int fdCount, ref int droppedFds)
    {
        int offset = 0;
        while (offset + LibC.CmsgHeaderSize <= length)
        {
            int cmsgLength = (int)*(nuint*)(control + offset);
            if (cmsgLength < LibC.CmsgHeaderSize || offset + cmsgLength > length) break;
            int level = *(int*)(control + offset + 8);
            int type = *(int*)(control + offset + 12);
            if (level == LibC.SOL_SOCKET && type == LibC.SCM_RIGHTS)
            {
                int count = (cmsgLength - LibC.CmsgHeaderSize) / sizeof(int);
                int* received = (int*)(control + offset + LibC.CmsgHeaderSize);
                for (int i = 0; i < count; i++)
                {
                    if (fdCount < fds.Length) fds[fdCount++] = received[i];
                    else { LibC.close(received[i]); droppedFds++; }
                }
            }
            offset += (cmsgLength + 7) & ~7;
        }
    }

    /// <summary>Whether something exists at <paramref name="path"/> (symlinks not followed), and whether it is a socket.</summary>
    public static bool PathExists(string path, out bool isSocket)
    {
        byte* buffer = stackalloc byte[256];
        isSocket = false;
        if (LibC.statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, buffer) != 0) return false;
        int mode = *(ushort*)(buffer + LibC.StatxModeOffset);
        isSocket = (mode & LibC.S_IFMT) == LibC.S_IFSOCK;
        return true;
    }

    /// <summary>Whether a server accepts connections at <paramref name="path"/> (a live socket, not a stale file).</summary>
    public static bool IsListening(string path)
    {
        try
        {
            using var probe = Connect(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static FileDescriptor NewSocket()
    {
        int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        FileDescriptor.Check(fd, "socket(AF_UNIX)");
        return new FileDescriptor(fd);
    }

    private static int FillAddress(Span<byte> address, string path)
    {
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes == 0 || bytes > MaxPathBytes)
            throw new IOException($"Socket path '{path}' must be 1..{MaxPathBytes} bytes.");
        address.Clear();
        address[0] = LibC.AF_UNIX; // sa_family_t, little-endian u16
        Encoding.UTF8.GetBytes(path, address[2..]);
        return 2 + bytes + 1;
    }
}
