using System.Net.Sockets;
using System.Runtime.InteropServices;
using Polynic.Native;

namespace Polynic.Ports.Sockets;

/// <summary>
/// The socket system calls of the frame path, called directly so that "would block" is an errno
/// and not an exception, and nothing is allocated: recv(2), sendmsg(2) and sendto(2), always with
/// MSG_DONTWAIT (never block the caller, whatever the socket's mode) and MSG_NOSIGNAL (a peer that
/// left gives EPIPE, not SIGPIPE). Callers keep the socket's handle referenced during the call.
/// </summary>
internal static unsafe partial class SocketCalls
{
    private const string Lib = "libc";

    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = LibC.MSG_NOSIGNAL;
    public const short POLLOUT = 0x4;

    public const int EAGAIN = Errno.EAGAIN;
    public const int ENOTSOCK = 88;

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint sendmsg(int fd, LibC.MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "sendto", SetLastError = true)]
    public static partial nint sendto(int fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength);

    /// <summary>Writes up to two buffers as one send without blocking; returns bytes written or -errno.</summary>
    public static nint SendGather(int fd, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        fixed (byte* a = first)
        fixed (byte* b = second)
        {
            var iov = stackalloc LibC.IoVec[2];
            iov[0] = new LibC.IoVec { Base = a, Length = (nuint)first.Length };
            iov[1] = new LibC.IoVec { Base = b, Length = (nuint)second.Length };
            var message = new LibC.MsgHdr { Iov = iov, IovLength = second.IsEmpty ? 1u : 2u };
            while (true)
            {
                nint sent = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (sent >= 0) return sent;
                int errno = LibC.LastErrno;
                if (errno != Errno.EINTR) return -errno;
            }
        }
    }

    /// <summary>Reads what is there without blocking; returns bytes read, 0 at end of stream, or -errno.</summary>
    public static nint Receive(int fd, Span<byte> buffer, int flags = 0)
    {
        fixed (byte* data = buffer)
        {
            while (true)
            {
                nint read = recv(fd, data, (nuint)buffer.Length, MSG_DONTWAIT | flags);
                if (read >= 0) return read;
                int errno = LibC.LastErrno;
                if (errno != Errno.EINTR) return -errno;
            }
        }
    }

    /// <summary>Sends one datagram to <paramref name="address"/> (a native sockaddr) without blocking; bytes sent or -errno.</summary>
    public static nint SendTo(int fd, ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> address)
    {
        fixed (byte* data = datagram)
        fixed (byte* to = address)
        {
            while (true)
            {
                nint sent = sendto(fd, data, (nuint)datagram.Length, MSG_DONTWAIT | MSG_NOSIGNAL, to, (uint)address.Length);
                if (sent >= 0) return sent;
                int errno = LibC.LastErrno;
                if (errno != Errno.EINTR) return -errno;
            }
        }
    }

    /// <summary>
    /// True if <paramref name="path"/> names a socket (not following a symbolic link). statx(2) is
    /// used because its struct is the same on every architecture: stx_mode is the u16 at offset 28.
    /// </summary>
    public static bool IsSocketFile(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (LibC.statx(LibC.AT_FDCWD, path, LibC.AT_SYMLINK_NOFOLLOW, LibC.STATX_TYPE, buffer) != 0) return false;
        return (*(ushort*)(buffer + LibC.StatxModeOffset) & LibC.S_IFMT) == LibC.S_IFSOCK;
    }

    /// <summary>The descriptor number behind a .NET socket (valid while its handle is referenced).</summary>
    public static int Descriptor(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>
    /// Keeps <paramref name="socket"/>'s descriptor open until the returned lease is disposed, so a
    /// concurrent Dispose cannot close a number in use; false if it is already closed.
    /// </summary>
    public static bool TryLease(Socket socket, out SocketLease lease)
    {
        lease = default;
        SafeSocketHandle handle;
        try
        {
            handle = socket.SafeHandle;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        if (!added) return false;
        lease = new SocketLease(handle);
        return true;
    }

    /// <summary>A reference that keeps a socket's descriptor open; dispose exactly once.</summary>
    public readonly struct SocketLease : IDisposable
    {
        private readonly SafeSocketHandle? _handle;

        internal SocketLease(SafeSocketHandle handle) => _handle = handle;

        /// <summary>The descriptor number, valid while the lease is held.</summary>
        public int Number => _handle is null ? -1 : (int)_handle.DangerousGetHandle();

        /// <inheritdoc/>
        public void Dispose() => _handle?.DangerousRelease();
    }
}
