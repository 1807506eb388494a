using System.Runtime.InteropServices;

namespace Polynic.Ports.Native;

/// <summary>Linux errno values the ports react to, and their text for messages.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EBADFD = 77;

    /// <summary>strerror text with the symbolic number, e.g. "Operation not permitted (errno 1)".</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>
    /// Errors after which a tap descriptor is useless: the kernel detached the interface from it
    /// (drivers/net/tun.c returns EBADFD once the netdev is unregistered) or the device failed.
    /// </summary>
    public static bool MeansDeviceGone(int errno) => errno is EBADFD or EBADF or EIO or ENODEV or ENXIO;
}
