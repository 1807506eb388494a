namespace Polynic.Rig.Tests;

/// <summary>A host that cannot build gets one sentence, not a stack trace from half way through debootstrap.</summary>
public sealed class PrerequisiteTests : IDisposable
{
    private readonly string emptyCache = Path.Combine(Path.GetTempPath(), "polynic-empty-cache-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Unreachable_mirror_is_one_clear_sentence()
    {
        // Port 1 on loopback: nothing listens, nothing leaves the machine.
        var rig = new GuestRig(new GuestRigOptions { CacheDirectory = emptyCache, Mirror = "http://127.0.0.1:1/debian" });

        var error = await Assert.ThrowsAsync<RigPrerequisiteException>(() => rig.PrepareAsync());

        Assert.StartsWith("Cannot reach the Debian mirror http://127.0.0.1:1/debian", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Too_little_disk_is_one_clear_sentence()
    {
        var rig = new GuestRig(new GuestRigOptions { CacheDirectory = emptyCache, RequiredFreeBytes = long.MaxValue / 2 });

        var error = await Assert.ThrowsAsync<RigPrerequisiteException>(() => rig.PrepareAsync());

        Assert.StartsWith("Not enough disk space for the guest cache", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Prepare_command_prints_the_sentence_and_returns_status_2()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var status = await GuestPrepareCommand.RunAsync(output, error,
            new GuestRigOptions { CacheDirectory = emptyCache, Mirror = "http://127.0.0.1:1/debian" });

        Assert.Equal(2, status);
        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Cannot reach the Debian mirror", error.ToString());
    }

    [Fact]
    public void Cache_directory_comes_from_option_then_environment_then_default()
    {
        Assert.Equal("/x/y", new GuestRigOptions { CacheDirectory = "/x/y" }.ResolveCacheDirectory());
        var previous = Environment.GetEnvironmentVariable(GuestRigOptions.CacheEnvironmentVariable);
        Assert.Equal(previous is { Length: > 0 } ? Path.GetFullPath(previous) : GuestRigOptions.DefaultCacheDirectory,
            new GuestRigOptions().ResolveCacheDirectory());
    }

    public void Dispose()
    {
        if (Directory.Exists(emptyCache)) Directory.Delete(emptyCache, recursive: true);
    }
}
