using System.Runtime.InteropServices;

namespace Polynic.Native;

/// <summary>
/// Linux errno values (asm-generic/errno-base.h, errno.h): the ones system calls return here and
/// the ones the vfio-user protocol sends in error replies ("a UNIX errno value").
/// </summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int ENOTDIR = 20;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENOSYS = 38;
    public const int ELOOP = 40;
    public const int EBADFD = 77;
    public const int ENOTSUP = 95;
    public const int ETIMEDOUT = 110;

    /// <summary>The symbolic name of a value listed here, else null.</summary>
    public static string? Name(int errno) => errno switch
    {
        EPERM => nameof(EPERM),
        ENOENT => nameof(ENOENT),
        EINTR => nameof(EINTR),
        EIO => nameof(EIO),
        ENXIO => nameof(ENXIO),
        E2BIG => nameof(E2BIG),
        EBADF => nameof(EBADF),
        EAGAIN => nameof(EAGAIN),
        ENOMEM => nameof(ENOMEM),
        EACCES => nameof(EACCES),
        EFAULT => nameof(EFAULT),
        EBUSY => nameof(EBUSY),
        EEXIST => nameof(EEXIST),
        ENODEV => nameof(ENODEV),
        ENOTDIR => nameof(ENOTDIR),
        EINVAL => nameof(EINVAL),
        ENOSPC => nameof(ENOSPC),
        ENOSYS => nameof(ENOSYS),
        ELOOP => nameof(ELOOP),
        EBADFD => nameof(EBADFD),
        ENOTSUP => nameof(ENOTSUP),
        ETIMEDOUT => nameof(ETIMEDOUT),
        _ => null,
    };

    /// <summary>
    /// Text for messages and logs: strerror and the number, with the symbolic name when known,
    /// e.g. "Invalid argument (EINVAL, errno 22)".
    /// </summary>
    public static string Describe(int errno) => Name(errno) is { } name
        ? $"{Marshal.GetPInvokeErrorMessage(errno)} ({name}, errno {errno})"
        : $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
