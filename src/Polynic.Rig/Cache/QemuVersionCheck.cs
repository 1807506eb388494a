using System.Text.RegularExpressions;
using Polynic.Rig.Hosting;

namespace Polynic.Rig.Cache;

/// <summary>Makes sure the root's QEMU has a vfio-user client (10.1 or later).</summary>
internal static partial class QemuVersionCheck
{
    public static async Task<Version> RequireAsync(string root, Version minimum, CancellationToken cancellationToken)
    {
        var outcome = await IsolatedChroot.RunCheckedAsync("qemu-system-x86_64 --version", root,
            ["qemu-system-x86_64", "--version"], TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
        var version = Parse(outcome.StandardOutput)
            ?? throw new RigException($"Cannot read the QEMU version from: {outcome.StandardOutput.Trim()}");
        if (version < minimum)
            throw new RigException($"QEMU {version} in the guest root is older than {minimum}, the first version with -device vfio-user-pci; check the backports suite.");
        return version;
    }

    /// <summary>Reads "QEMU emulator version 11.1.3 (Debian ...)".</summary>
    public static Version? Parse(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        if (!match.Success) return null;
        return new Version(int.Parse(match.Groups[1].ValueSpan, provider: null), int.Parse(match.Groups[2].ValueSpan, provider: null),
            match.Groups[3].Success ? int.Parse(match.Groups[3].ValueSpan, provider: null) : 0);
    }

    [GeneratedRegex(@"QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?")]
    private static partial Regex VersionPattern();
}
