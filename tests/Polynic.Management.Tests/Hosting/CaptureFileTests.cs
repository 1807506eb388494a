using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Management.Tests.Hosting;

/// <summary>
/// The configuration's capture file is created by the server (often root) in a directory a
/// local user may reach: the same rule as every other file Polynic writes (PrivateDirectory).
/// </summary>
public sealed class CaptureFileTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _work = Directory.CreateTempSubdirectory("polynic-capture-host-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private Task<ServerHost> StartAsync(string captureFile) =>
        ServerHost.StartAsync(new PolynicConfiguration("test", new CaptureConfiguration(captureFile, 1 << 20, 1), [], []),
            new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(_work, "cache") }), NullLoggerFactory.Instance);

    [Fact]
    public async Task The_capture_file_is_0600_in_a_directory_the_server_creates_0700()
    {
        string file = Path.Combine(_work, "captures", "lan.pcapng");

        await using (var host = await StartAsync(file))
            Assert.Equal(file, host.CaptureFile);

        Assert.Equal(OwnerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(file)!));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task A_capture_directory_other_users_may_write_is_refused_with_the_reason()
    {
        string shared = Path.Combine(_work, "shared");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, (UnixFileMode)0x1FF);

        var refused = await Assert.ThrowsAnyAsync<IOException>(() => StartAsync(Path.Combine(shared, "lan.pcapng")));

        Assert.Contains($"{shared} is writable by group or others (mode 0777) and not sticky", refused.Message);
        Assert.Empty(Directory.GetFileSystemEntries(shared));
    }

    [Fact]
    public async Task A_link_planted_at_the_capture_file_s_name_is_not_followed()
    {
        string victim = Path.Combine(_work, "victim");
        File.WriteAllText(victim, "precious");
        string file = Path.Combine(_work, "lan.pcapng");
        File.CreateSymbolicLink(file, victim);

        var refused = await Assert.ThrowsAnyAsync<IOException>(() => StartAsync(file));

        Assert.Contains($"{file} is a symbolic link", refused.Message);
        Assert.Equal("precious", File.ReadAllText(victim));
    }
}
