using Polynic.Native;

namespace Polynic.Cli.Demo;

/// <summary>Where the LAN demo's pcapng capture goes: one file per run in the capture directory.</summary>
/// <remarks>
/// The demo runs as root and the default directory (/var/tmp/polynic) is in a directory every
/// local user may write, with predictable names in it: the directory goes through
/// <see cref="PrivateDirectory"/> (created 0700, refused if another user could change it or it is
/// a link), and the server creates the file in it exclusively.
/// </remarks>
internal static class DemoCapture
{
    /// <summary>File names the demo gives its captures; earlier ones are removed.</summary>
    public const string Pattern = "polynic-demo-*.pcapng";

    /// <summary>
    /// Prepares <paramref name="directory"/> for this run's capture and returns the file's path
    /// (the server creates the file).
    /// </summary>
    /// <exception cref="UnsafePathException">The directory is a link, or another user owns it or may write it.</exception>
    /// <exception cref="IOException">It cannot be created.</exception>
    public static string Prepare(string directory, DateTime now)
    {
        using var captures = PrivateDirectory.Open(directory);
        // Keep only the latest demo's capture: a demo run captures a few hundred megabytes of
        // headers. Only our own files go (another user's, in a shared sticky directory, stay).
        foreach (var old in Directory.EnumerateFiles(captures.Path, Pattern)) captures.DeleteFile(Path.GetFileName(old));
        return captures.Combine($"polynic-demo-{now:yyyyMMdd-HHmmss}.pcapng");
    }
}
