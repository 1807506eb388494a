using System.Diagnostics;
using Polynic.Rig.Guests;

namespace Polynic.Rig.Tests;

/// <summary>
/// The rig runs as root and keeps each guest's serial log and QMP socket under /tmp, where any
/// local user can create entries first. Uid 65534 plays that user (the tests run as root, as CI does).
/// </summary>
public sealed class GuestWorkDirectoryTests : IDisposable
{
    private const int Nobody = 65534;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _tmp = Directory.CreateTempSubdirectory("polynic-rig-work-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void The_parent_is_created_0700_and_each_guest_gets_a_fresh_0700_directory_with_a_0600_serial_log()
    {
        string parent = Path.Combine(_tmp, "polynic-guests");

        var (path, serialLog) = GuestWorkDirectory.Create(parent, "vm1-1-aa");
        serialLog.Dispose();

        Assert.Equal(Path.Combine(parent, "vm1-1-aa"), path);
        Assert.Equal(Private, File.GetUnixFileMode(parent));
        Assert.Equal(Private, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(path, "serial.log")));
    }

    [Fact]
    public void A_parent_another_user_created_first_is_refused_naming_its_owner()
    {
        string parent = Path.Combine(_tmp, "polynic-guests");
        Directory.CreateDirectory(parent, Private);
        Chown(parent);

        var refused = Assert.ThrowsAny<IOException>(() => GuestWorkDirectory.Create(parent, "vm1-1-aa"));

        Assert.Contains($"{parent} is owned by uid {Nobody}", refused.Message);
        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }

    [Fact]
    public void A_link_in_place_of_the_parent_is_refused()
    {
        string target = Path.Combine(_tmp, "elsewhere");
        Directory.CreateDirectory(target, Private);
        string parent = Path.Combine(_tmp, "polynic-guests");
        File.CreateSymbolicLink(parent, target);

        var refused = Assert.ThrowsAny<IOException>(() => GuestWorkDirectory.Create(parent, "vm1-1-aa"));

        Assert.Contains($"{parent} is a symbolic link", refused.Message);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public void A_guest_directory_that_already_exists_is_never_reused()
    {
        string parent = Path.Combine(_tmp, "polynic-guests");
        Directory.CreateDirectory(Path.Combine(parent, "vm1-1-aa"));
        File.SetUnixFileMode(parent, Private);
        string victim = Path.Combine(_tmp, "victim");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(Path.Combine(parent, "vm1-1-aa", "serial.log"), victim);

        var refused = Assert.ThrowsAny<IOException>(() => GuestWorkDirectory.Create(parent, "vm1-1-aa"));

        Assert.Contains("already exists", refused.Message);
        Assert.Equal("precious", File.ReadAllText(victim));
    }

    private static void Chown(string path)
    {
        var chown = Process.Start(new ProcessStartInfo("chown", ["-h", $"{Nobody}:{Nobody}", path]) { RedirectStandardError = true })!;
        string error = chown.StandardError.ReadToEnd();
        chown.WaitForExit();
        Assert.True(chown.ExitCode == 0, $"chown {path} failed (these tests run as root, as CI does): {error}");
    }
}
