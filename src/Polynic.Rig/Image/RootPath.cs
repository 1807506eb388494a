namespace Polynic.Rig.Image;

/// <summary>
/// Resolves a path inside the Debian root the way the root would see it. Needed because
/// the root's symlinks are absolute (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...):
/// following them from the host would silently read the host's own files.
/// </summary>
internal static class RootPath
{
    /// <summary>The host path of the file that <paramref name="pathInRoot"/> names inside <paramref name="root"/>.</summary>
    public static string Resolve(string root, string pathInRoot)
    {
        var pending = new Stack<string>(Split(pathInRoot).Reverse());
        var resolved = new List<string>();
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".") continue;
            if (part == "..")
            {
                if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var candidate = Path.Combine(root, string.Join('/', resolved.Append(part)));
            var info = new FileInfo(candidate);
            if (info.LinkTarget is { } target)
            {
                if (++hops > 40) throw new RigException($"Too many symbolic links resolving {pathInRoot} in {root}.");
                if (target.StartsWith('/')) resolved.Clear();
                foreach (var piece in Split(target).Reverse()) pending.Push(piece);
                continue;
            }
            resolved.Add(part);
        }
        return Path.Combine(root, string.Join('/', resolved));
    }

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
