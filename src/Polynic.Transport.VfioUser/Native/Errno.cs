namespace Polynic.Transport.VfioUser.Native;

/// <summary>Linux errno values the protocol sends in error replies (the spec: "a UNIX errno value").</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EFAULT = 14;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENOSYS = 38;
    public const int ENOTSUP = 95;
    public const int ETIMEDOUT = 110;

    /// <summary>A short text for logs, e.g. "EINVAL (22)".</summary>
    public static string Describe(int errno) => errno switch
    {
        EPERM => "EPERM (1)",
        ENOENT => "ENOENT (2)",
        EIO => "EIO (5)",
        E2BIG => "E2BIG (7)",
        EBADF => "EBADF (9)",
        ENOMEM => "ENOMEM (12)",
        EFAULT => "EFAULT (14)",
        EEXIST => "EEXIST (17)",
        ENODEV => "ENODEV (19)",
        EINVAL => "EINVAL (22)",
        ENOSPC => "ENOSPC (28)",
        ENOSYS => "ENOSYS (38)",
        ENOTSUP => "ENOTSUP (95)",
        ETIMEDOUT => "ETIMEDOUT (110)",
        _ => $"errno {errno}",
    };
}
