using System.Diagnostics;
using System.Text.Json;
using Polynic.Rig.Hosting;

namespace Polynic.Rig.Cache;

/// <summary>What a finished root holds; written last, so its presence marks a complete root.</summary>
internal sealed record RootManifest(string Key, string QemuVersion, string KernelRelease, string KernelPackage, DateTimeOffset Built);

/// <summary>
/// Builds the Debian root that hosts QEMU and provides the guest's kernel, modules and tools:
/// debootstrap, QEMU from backports, the kernel package, the tool packages. Runs in a
/// temporary directory that the caller renames into place only when this returns.
/// </summary>
internal sealed class RootBuilder(GuestRigOptions options, IProgress<string>? progress)
{
    public const string ManifestFile = "root.json";
    public const string RootDirectory = "root";

    public async Task<RootManifest> BuildAsync(string key, string entryDirectory, CancellationToken cancellationToken)
    {
        var root = Path.Combine(entryDirectory, RootDirectory);
        Directory.CreateDirectory(entryDirectory);
        var clock = Stopwatch.StartNew();

        progress?.Report($"Bootstrapping a Debian {options.Suite} root (debootstrap, about a minute) ...");
        var debootstrap = HostPrerequisites.FindDebootstrap() ?? "debootstrap";
        // In its own mount namespace too: debootstrap mounts /proc and /sys inside the target.
        await HostProcess.RunCheckedAsync("debootstrap", IsolatedChroot.Launcher,
            ["--mount", "--propagation", "private", "--", debootstrap, "--variant=minbase", "--include=ca-certificates",
             options.Suite, root, options.Mirror],
            TimeSpan.FromMinutes(20), cancellationToken,
            new ThrottledProgress(progress, "debootstrap", TimeSpan.FromSeconds(4)).OnLine,
            IsolatedChroot.AptEnvironment).ConfigureAwait(false);

        var sources = new List<string> { $"deb {options.Mirror} {options.QemuSuite} main" };
        if (options.Kernel.Suite is { } kernelSuite && kernelSuite != options.Suite && kernelSuite != options.QemuSuite)
            sources.Add($"deb {options.Mirror} {kernelSuite} main");
        await File.WriteAllLinesAsync(Path.Combine(root, "etc/apt/sources.list.d/polynic.list"), sources, cancellationToken).ConfigureAwait(false);

        await AptAsync(root, "apt-get update", ["apt-get", "update"], cancellationToken).ConfigureAwait(false);
        progress?.Report($"Installing QEMU from {options.QemuSuite} ...");
        await AptAsync(root, "installing QEMU",
            ["apt-get", "install", "-y", "--no-install-recommends", "-t", options.QemuSuite, "qemu-system-x86"], cancellationToken).ConfigureAwait(false);

        progress?.Report($"Installing the kernel ({options.Kernel.Package}) and guest tools ...");
        // "package/suite" takes just the kernel from another suite; its dependencies (kmod,
        // initramfs-tools) still come from the root's suite. "-t suite" would drag in the
        // other suite's libraries and conflict with what the root already has.
        var kernelPackage = options.Kernel.Suite is { } suite && suite != options.Suite
            ? $"{options.Kernel.Package}/{suite}"
            : options.Kernel.Package;
        await AptAsync(root, "installing the kernel and guest tools",
            ["apt-get", "install", "-y", "--no-install-recommends", kernelPackage, .. options.RootPackages], cancellationToken).ConfigureAwait(false);
        // The downloaded .debs are half the size of the root and never needed again.
        await IsolatedChroot.RunCheckedAsync("apt-get clean", root, ["apt-get", "clean"], TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);

        var qemuVersion = await QemuVersionCheck.RequireAsync(root, options.MinimumQemuVersion, cancellationToken).ConfigureAwait(false);
        var kernelRelease = await KernelLocator.ResolveReleaseAsync(root, options.Kernel.Package, cancellationToken).ConfigureAwait(false);

        var manifest = new RootManifest(key, qemuVersion.ToString(), kernelRelease, options.Kernel.Package, DateTimeOffset.UtcNow);
        await File.WriteAllTextAsync(Path.Combine(entryDirectory, ManifestFile),
            JsonSerializer.Serialize(manifest, RigJson.Default.RootManifest), cancellationToken).ConfigureAwait(false);
        progress?.Report($"Root ready in {clock.Elapsed.TotalSeconds:0} s: QEMU {qemuVersion}, kernel {kernelRelease}.");
        return manifest;
    }

    private Task AptAsync(string root, string what, IReadOnlyList<string> command, CancellationToken cancellationToken)
        => IsolatedChroot.RunCheckedAsync(what, root, command, TimeSpan.FromMinutes(20), cancellationToken,
            new ThrottledProgress(progress, "apt", TimeSpan.FromSeconds(4)).OnLine);
}
