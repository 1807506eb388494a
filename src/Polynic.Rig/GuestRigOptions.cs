using Microsoft.Extensions.Logging;

namespace Polynic.Rig;

/// <summary>Where the rig keeps its cache and what it builds. Every field that changes what is built feeds the cache key.</summary>
public sealed record GuestRigOptions
{
    /// <summary>The environment variable that overrides the default cache directory.</summary>
    public const string CacheEnvironmentVariable = "POLYNIC_CACHE";

    /// <summary>The cache directory when neither this option nor <see cref="CacheEnvironmentVariable"/> is set.</summary>
    public const string DefaultCacheDirectory = "/var/cache/polynic";

    /// <summary>The cache directory; <c>null</c> means $POLYNIC_CACHE, else /var/cache/polynic.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The Debian suite of the root that hosts QEMU.</summary>
    public string Suite { get; init; } = "trixie";

    /// <summary>The Debian mirror used by debootstrap and apt.</summary>
    public string Mirror { get; init; } = "http://deb.debian.org/debian";

    /// <summary>The suite QEMU comes from (trixie's own QEMU 10.0 lacks a usable vfio-user client).</summary>
    public string QemuSuite { get; init; } = "trixie-backports";

    /// <summary>The oldest QEMU accepted: the first with <c>-device vfio-user-pci</c>.</summary>
    public Version MinimumQemuVersion { get; init; } = new(10, 1);

    /// <summary>The kernel the guest boots.</summary>
    public KernelSource Kernel { get; init; } = KernelSource.Default;

    /// <summary>Packages installed into the root besides QEMU and the kernel: the initramfs draws its tools from them.</summary>
    public IReadOnlyList<string> RootPackages { get; init; } =
        ["busybox-static", "iperf3", "ethtool", "pciutils", "pci.ids", "cpio", "kmod", "xz-utils", "zstd", "iproute2", "iputils-ping"];

    /// <summary>Free space required before a cold build starts.</summary>
    public long RequiredFreeBytes { get; init; } = 3L << 30;

    /// <summary>Diagnostics beyond the progress lines; defaults to none.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>The cache directory after applying the environment override and the default.</summary>
    public string ResolveCacheDirectory()
    {
        var chosen = CacheDirectory;
        if (string.IsNullOrWhiteSpace(chosen)) chosen = Environment.GetEnvironmentVariable(CacheEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(chosen)) chosen = DefaultCacheDirectory;
        return Path.GetFullPath(chosen);
    }
}
