using Polynic.Rig;
using Xunit.Abstractions;

namespace Polynic.Rig.Tests;

/// <summary>Preparing the cache: the first call builds (or finds) it, the next is a quick cache hit.</summary>
public sealed class PrepareTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Prepare_twice_second_is_a_fast_cache_hit_with_qemu_and_kernel()
    {
        var rig = new GuestRig();
        var first = await rig.EnsurePreparedAsync(new TestProgress(output));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var second = await rig.PrepareAsync(new TestProgress(output));
        clock.Stop();

        Assert.Equal(first, second);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"warm prepare took {clock.Elapsed}");
        Assert.True(File.Exists(second.KernelPath), second.KernelPath);
        Assert.True(new FileInfo(second.InitramfsPath).Length > 1_000_000, "initramfs suspiciously small");
        Assert.True(Version.Parse(second.QemuVersion) >= new Version(10, 1), second.QemuVersion);
        Assert.StartsWith("6.", second.KernelRelease);
        output.WriteLine($"warm prepare {clock.ElapsedMilliseconds} ms; {second.ImageDirectory}");
    }
}

/// <summary>Shows rig progress in the test output.</summary>
internal sealed class TestProgress(ITestOutputHelper output) : IProgress<string>
{
    public void Report(string value)
    {
        try { output.WriteLine(value); } catch (InvalidOperationException) { /* test already finished */ }
        Console.WriteLine(value);
    }
}
