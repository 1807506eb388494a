using System.Runtime.InteropServices;

namespace Polynic.Transport.VfioUser.Native;

/// <summary>
/// The few Linux system calls the transport needs, as source-generated P/Invoke. Layouts are
/// those of LP64 Linux (x86-64 and arm64 agree on every structure used here).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SHUT_RDWR = 2;

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;
    public const uint MFD_CLOEXEC = 1;

    public const int SEEK_END = 2;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SHRINK = 2;

    public const short POLLIN = 1;

    public const int EINTR = 4;
    public const int EAGAIN = 11;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

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

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(FileDescriptor fd, byte* address, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int connect(FileDescriptor fd, byte* address, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int listen(FileDescriptor fd, int backlog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int accept4(FileDescriptor fd, void* address, void* length, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int shutdown(FileDescriptor fd, int how);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvmsg(FileDescriptor fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendmsg(FileDescriptor fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ftruncate(FileDescriptor fd, long length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial long lseek(FileDescriptor fd, long offset, int whence);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(FileDescriptor fd, int command, int argument);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, FileDescriptor fd, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 1;
    public const int StatxModeOffset = 28;
    public const int S_IFMT = 0xF000;
    public const int S_IFSOCK = 0xC000;

    /// <summary>statx(2); the buffer must hold a struct statx (256 bytes).</summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>errno of the last failed call on this thread.</summary>
    public static int LastErrno => Marshal.GetLastPInvokeError();
}
