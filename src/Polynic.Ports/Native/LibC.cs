using System.Runtime.InteropServices;

namespace Polynic.Ports.Native;

/// <summary>
/// The Linux system calls the ports need, as source-generated P/Invoke. Descriptors are passed
/// as raw numbers: callers hold a reference on the owning <see cref="FileDescriptor"/> for the
/// duration of the call, so a concurrent Dispose can never close a number that is in use.
/// Layouts are those of LP64 Linux (x86-64 and arm64 agree on every structure used here).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int AF_INET = 2;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>errno of the last call made through this class on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int iovCount);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int eventfd(uint initialValue, int flags);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint geteuid();

    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    // ioctl is variadic in C; on LP64 Linux (x86-64, arm64) a single pointer argument is passed
    // exactly like a fixed one, so the non-variadic signature is safe for the requests used here.
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nuint argument);
}
