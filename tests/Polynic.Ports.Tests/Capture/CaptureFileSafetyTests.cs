using Polynic.Ports.Capture;
using static Polynic.Ports.Tests.Capture.PcapngWriterTests;

namespace Polynic.Ports.Tests.Capture;

/// <summary>
/// Capture files are written by root into directories a local user may reach (/var/tmp): they
/// must never be opened through a link someone planted, nor be readable by other users.
/// </summary>
public sealed class CaptureFileSafetyTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void Capture_files_and_rotated_files_are_0600()
    {
        using var files = new CaptureFiles();
        var writer = new PcapngWriter(files["ring.pcapng"], new PcapngWriterOptions { MaxFileBytes = 4096, KeepFiles = 2 });
        int nic = writer.AddInterface("nic0");
        for (int i = 0; i < 100; i++) writer.WritePacket(nic, Numbered(i, 200), CaptureDirection.Inbound);
        writer.Dispose();

        Assert.True(writer.Rotations >= 2);
        Assert.All([writer.Path, .. writer.RotatedFiles], file => Assert.Equal(OwnerOnly, File.GetUnixFileMode(file)));
    }

    [Fact]
    public void A_missing_capture_directory_is_created_0700()
    {
        using var files = new CaptureFiles();
        string path = Path.Combine(files.Root, "new-dir", "lan.pcapng");

        new PcapngWriter(path).Dispose();

        Assert.Equal(OwnerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void A_link_planted_at_the_capture_file_s_name_is_refused_and_its_target_left_alone()
    {
        using var files = new CaptureFiles();
        string victim = files["victim"];
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(files["lan.pcapng"], victim);

        var refused = Assert.Throws<Native.UnsafePathException>(() => new PcapngWriter(files["lan.pcapng"]));

        Assert.Contains("is a symbolic link", refused.Message);
        Assert.Equal("precious", File.ReadAllText(victim));
    }

    [Fact]
    public void A_capture_directory_other_users_may_write_is_refused()
    {
        using var files = new CaptureFiles();
        string shared = files["shared"];
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, (UnixFileMode)0x1FF);

        var refused = Assert.Throws<Native.UnsafePathException>(() => new PcapngWriter(Path.Combine(shared, "lan.pcapng")));

        Assert.Contains("is writable by group or others (mode 0777) and not sticky", refused.Message);
        Assert.Empty(Directory.GetFileSystemEntries(shared));
    }

    [Fact]
    public void A_capture_file_of_an_earlier_run_is_replaced_and_a_link_at_a_rotated_name_is_replaced_not_followed()
    {
        using var files = new CaptureFiles();
        File.WriteAllText(files["ring.pcapng"], "earlier run");
        string victim = files["victim"];
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(files["ring.1.pcapng"], victim);

        var writer = new PcapngWriter(files["ring.pcapng"], new PcapngWriterOptions { MaxFileBytes = 4096, KeepFiles = 1 });
        int nic = writer.AddInterface("nic0");
        for (int i = 0; i < 40; i++) writer.WritePacket(nic, Numbered(i, 200), CaptureDirection.Inbound);
        writer.Dispose();

        Assert.True(writer.Rotations >= 1);
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.False(new FileInfo(files["ring.1.pcapng"]).LinkTarget is not null);
        Assert.NotEmpty(Tshark.Fields(files["ring.1.pcapng"], null, "eth.src"));
        Assert.NotEmpty(Tshark.Fields(writer.Path, null, "eth.src"));
    }
}
