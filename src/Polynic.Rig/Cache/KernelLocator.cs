using Polynic.Rig.Hosting;

namespace Polynic.Rig.Cache;

/// <summary>
/// Finds which kernel release a Debian kernel package installed: a metapackage such as
/// linux-image-amd64 only depends on the versioned image, whose file list names /boot/vmlinuz-RELEASE.
/// </summary>
internal static class KernelLocator
{
    public static async Task<string> ResolveReleaseAsync(string root, string package, CancellationToken cancellationToken)
    {
        var current = package;
        for (var depth = 0; depth < 4; depth++)
        {
            var files = await IsolatedChroot.RunCheckedAsync($"dpkg-query -L {current}", root,
                ["dpkg-query", "-L", current], TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            var vmlinuz = files.StandardOutput.Split('\n')
                .Select(line => line.Trim())
                .FirstOrDefault(line => line.StartsWith("/boot/vmlinuz-", StringComparison.Ordinal));
            if (vmlinuz is not null) return vmlinuz["/boot/vmlinuz-".Length..];

            var depends = await IsolatedChroot.RunCheckedAsync($"dpkg-query Depends of {current}", root,
                ["dpkg-query", "-W", "-f=${Depends}", current], TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            var next = depends.StandardOutput.Split([',', '|'])
                .Select(item => item.Trim().Split(' ')[0])
                .FirstOrDefault(name => name.StartsWith("linux-image-", StringComparison.Ordinal));
            if (next is null) break;
            current = next;
        }
        throw new RigException($"The kernel package {package} installed no /boot/vmlinuz-*; choose a linux-image package.");
    }
}
