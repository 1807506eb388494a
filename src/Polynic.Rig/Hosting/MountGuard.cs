namespace Polynic.Rig.Hosting;

/// <summary>
/// Protects the host when a cache directory is removed: deleting a tree that still has
/// /dev bind-mounted inside would delete the host's device nodes.
/// </summary>
internal static class MountGuard
{
    /// <summary>True if anything is mounted at or below <paramref name="directory"/>.</summary>
    public static bool HasMountsUnder(string directory)
    {
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with spaces etc. octal-escaped.
            var fields = line.Split(' ');
            if (fields.Length < 5) continue;
            var mountPoint = fields[4].Replace("\\040", " ", StringComparison.Ordinal);
            if (mountPoint == prefix || mountPoint.StartsWith(prefix + "/", StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>Deletes a directory tree, refusing (with an exception) if something is mounted inside it.</summary>
    public static void DeleteTree(string directory)
    {
        if (!Directory.Exists(directory)) return;
        if (HasMountsUnder(directory))
            throw new RigException($"Refusing to delete {directory}: something is still mounted inside it (see /proc/self/mountinfo).");
        Directory.Delete(directory, recursive: true);
    }
}
