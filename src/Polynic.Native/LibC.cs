using System.Runtime.InteropServices;

namespace Polynic.Native;

/// <summary>
/// The Linux system calls Polynic makes directly, as source-generated P/Invoke. Calls on a hot
/// path or inside a poll set take raw descriptor numbers: the caller holds a
/// <see cref="FileDescriptor.Lease"/> for the duration, so a concurrent Dispose can never close a
/// number in use and nothing throws. The others take a <see cref="FileDescriptor"/>, which the
/// marshaller keeps referenced during the call. Layouts are those of LP64 Linux (x86-64 and
/// arm64 agree on every structure and constant used here).
/// </summary>
public static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SHUT_RDWR = 2;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDTIMEO = 21;

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const uint MFD_CLOEXEC = 1;

    public const int SEEK_END = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SHRINK = 2;

    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 1;
    /// <summary>Offset of stx_mode (u16) in struct statx.</summary>
    public const int StatxModeOffset = 28;
    public const int S_IFMT = 0xF000;
    public const int S_IFSOCK = 0xC000;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct timeval (SO_RCVTIMEO/SO_SNDTIMEO).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>sizeof(struct cmsghdr): size_t len, int level, int type.</summary>
    public const int CmsgHeaderSize = 16;

    /// <summary>CMSG_SPACE for <paramref name="fds"/> descriptors.</summary>
    public static int CmsgSpace(int fds) => CmsgHeaderSize + ((fds * sizeof(int) + 7) & ~7);

    /// <summary>errno of the last call made through this class on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int iovCount);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int eventfd(uint initialValue, int flags);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint geteuid();

    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    // ioctl is variadic in C; on LP64 Linux (x86-64, arm64) a single pointer argument is passed
    // exactly like a fixed one, so the non-variadic signature is safe for one-argument requests.
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nuint argument);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind(FileDescriptor fd, byte* address, uint length);

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    public static partial int connect(FileDescriptor fd, byte* address, uint length);

    [LibraryImport(Lib, EntryPoint = "listen", SetLastError = true)]
    public static partial int listen(FileDescriptor fd, int backlog);

    [LibraryImport(Lib, EntryPoint = "accept4", SetLastError = true)]
    public static partial int accept4(FileDescriptor fd, void* address, void* length, int flags);

    [LibraryImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int shutdown(FileDescriptor fd, int how);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint recvmsg(FileDescriptor fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint sendmsg(FileDescriptor fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int ftruncate(FileDescriptor fd, long length);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    public static partial long lseek(FileDescriptor fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int fcntl(FileDescriptor fd, int command, int argument);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, FileDescriptor fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    /// <summary>fstatfs(2); <paramref name="buffer"/> must hold a struct statfs (120 bytes), whose first field is f_type.</summary>
    [LibraryImport(Lib, EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int fstatfs(FileDescriptor fd, byte* buffer);

    /// <summary>f_type of hugetlbfs (linux/magic.h).</summary>
    public const long HUGETLBFS_MAGIC = 0x958458f6;

    [LibraryImport(Lib, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int setsockopt(FileDescriptor fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, uint mode);

    [LibraryImport(Lib, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    /// <summary>statx(2); <paramref name="buffer"/> must hold a struct statx (256 bytes).</summary>
    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int directoryFd, string path, int flags, uint mask, byte* buffer);
}
