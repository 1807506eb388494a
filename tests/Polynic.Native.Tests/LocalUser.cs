using System.Diagnostics;

namespace Polynic.Native.Tests;

/// <summary>
/// Plays the other local user of the threat model: hands files to uid 65534 (nobody). Needs
/// root, as Polynic's tests do everywhere (CI runs as root); without it the test fails, it does
/// not skip.
/// </summary>
internal static class LocalUser
{
    public const int Nobody = 65534;

    /// <summary>chown -h: a symbolic link itself changes owner, not its target.</summary>
    public static void Own(string path, int uid = Nobody)
    {
        var chown = Process.Start(new ProcessStartInfo("chown", ["-h", $"{uid}:{uid}", path]) { RedirectStandardError = true })!;
        string error = chown.StandardError.ReadToEnd();
        chown.WaitForExit();
        Assert.True(chown.ExitCode == 0, $"chown {uid} {path} failed (these tests run as root): {error}");
    }

    public static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);
}
