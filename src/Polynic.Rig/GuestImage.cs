namespace Polynic.Rig;

/// <summary>
/// A prepared, complete cache entry: the root that runs QEMU and the kernel and initramfs
/// the guest boots. Immutable once built; many guests may boot it at once.
/// </summary>
/// <param name="CacheDirectory">The cache holding it.</param>
/// <param name="RootDirectory">The Debian root QEMU runs in (chroot).</param>
/// <param name="ImageDirectory">The directory holding the kernel and initramfs.</param>
/// <param name="KernelPath">The guest kernel (bzImage).</param>
/// <param name="InitramfsPath">The guest initramfs with the agent (cpio newc, gzip).</param>
/// <param name="QemuVersion">The QEMU version in the root.</param>
/// <param name="KernelRelease">The guest kernel's release, e.g. 6.12.117+deb13-amd64.</param>
public sealed record GuestImage(
    string CacheDirectory,
    string RootDirectory,
    string ImageDirectory,
    string KernelPath,
    string InitramfsPath,
    string QemuVersion,
    string KernelRelease);
