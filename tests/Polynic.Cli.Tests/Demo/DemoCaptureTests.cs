using System.Diagnostics;
using Polynic.Cli.Demo;

namespace Polynic.Cli.Tests.Demo;

/// <summary>
/// <c>./polynic demo</c> runs as root and writes its capture under /var/tmp, where any local user
/// can create entries first. Uid 65534 plays that user (the tests run as root, as CI does).
/// </summary>
public sealed class DemoCaptureTests : IDisposable
{
    private const int Nobody = 65534;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private static readonly DateTime Now = new(2026, 12, 3, 10, 11, 12);
    private readonly string _tmp = Directory.CreateTempSubdirectory("polynic-demo-capture-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void A_missing_capture_directory_is_created_0700()
    {
        string directory = Path.Combine(_tmp, "polynic");

        string capture = DemoCapture.Prepare(directory, Now);

        Assert.Equal(Path.Combine(directory, "polynic-demo-20261203-101112.pcapng"), capture);
        Assert.Equal(Private, File.GetUnixFileMode(directory));
    }

    [Fact]
    public void A_capture_directory_another_user_created_first_is_refused_naming_its_owner()
    {
        string directory = Path.Combine(_tmp, "polynic");
        Directory.CreateDirectory(directory, Private);
        File.WriteAllText(Path.Combine(directory, "polynic-demo-1.pcapng"), "theirs");
        Chown(directory);

        var refused = Assert.ThrowsAny<IOException>(() => DemoCapture.Prepare(directory, Now));

        Assert.Contains($"{directory} is owned by uid {Nobody}", refused.Message);
        Assert.True(File.Exists(Path.Combine(directory, "polynic-demo-1.pcapng")));
    }

    [Fact]
    public void A_link_in_place_of_the_capture_directory_is_refused()
    {
        string target = Path.Combine(_tmp, "etc");
        Directory.CreateDirectory(target, Private);
        File.WriteAllText(Path.Combine(target, "polynic-demo-passwd.pcapng"), "precious");
        string directory = Path.Combine(_tmp, "polynic");
        File.CreateSymbolicLink(directory, target);

        var refused = Assert.ThrowsAny<IOException>(() => DemoCapture.Prepare(directory, Now));

        Assert.Contains($"{directory} is a symbolic link", refused.Message);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(target, "polynic-demo-passwd.pcapng")));
    }

    [Fact]
    public void In_a_shared_sticky_directory_only_our_own_earlier_captures_are_removed()
    {
        string directory = Path.Combine(_tmp, "shared");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, (UnixFileMode)0x1FF | UnixFileMode.StickyBit);
        string ours = Path.Combine(directory, "polynic-demo-20261201-000000.pcapng");
        string theirs = Path.Combine(directory, "polynic-demo-20261202-000000.pcapng");
        File.WriteAllText(ours, "");
        File.WriteAllText(theirs, "");
        Chown(theirs);

        DemoCapture.Prepare(directory, Now);

        Assert.False(File.Exists(ours));
        Assert.True(File.Exists(theirs));
    }

    private static void Chown(string path)
    {
        var chown = Process.Start(new ProcessStartInfo("chown", ["-h", $"{Nobody}:{Nobody}", path]) { RedirectStandardError = true })!;
        string error = chown.StandardError.ReadToEnd();
        chown.WaitForExit();
        Assert.True(chown.ExitCode == 0, $"chown {path} failed (these tests run as root, as CI does): {error}");
    }
}
