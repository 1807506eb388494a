using System.Runtime.InteropServices;

namespace Polynic.Native;

/// <summary>
/// The file-system calls behind <see cref="PrivateDirectory"/>: everything relative to a directory
/// descriptor (the *at calls), so a path component swapped after a check cannot redirect them.
/// </summary>
public static unsafe partial class LibC
{
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;

    // The only open flags whose values differ between x86-64 (asm-generic/fcntl.h) and arm64
    // (arch/arm64/include/uapi/asm/fcntl.h).
    public static readonly int O_DIRECTORY = IsArm64 ? 0x4000 : 0x10000;
    public static readonly int O_NOFOLLOW = IsArm64 ? 0x8000 : 0x20000;

    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_UID = 0x8;
    /// <summary>Offset of stx_uid (u32) in struct statx.</summary>
    public const int StatxUidOffset = 20;
    public const int S_IFDIR = 0x4000;
    public const int S_IFREG = 0x8000;
    public const int S_IFLNK = 0xA000;
    /// <summary>The sticky bit: in a directory, only an entry's owner may remove or rename it.</summary>
    public const int S_ISVTX = 0x200;

    private static bool IsArm64 => RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    [LibraryImport(Lib, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdir(string path, uint mode);

    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int directoryFd, string path, uint mode);

    // open and openat are variadic in C; on LP64 Linux (x86-64, arm64) the mode argument is
    // passed exactly like a fixed one, as with ioctl.
    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int directoryFd, string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int directoryFd, string path, int flags);

    [LibraryImport(Lib, EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat(int fromDirectoryFd, string from, int toDirectoryFd, string to);

    [LibraryImport(Lib, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);
}
