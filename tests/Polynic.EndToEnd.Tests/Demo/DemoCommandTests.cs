using System.Diagnostics;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Demo;

/// <summary>
/// The README's first command, run as a user would: <c>./polynic demo</c> from a cold guest
/// cache (a fresh POLYNIC_CACHE) and again from the warm one.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DemoCommandTests
{
    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "polynic"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (with ./polynic) was not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int ExitCode, string Output)> RunDemoAsync(string cache, string captures)
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot(), "polynic"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("demo");
        start.ArgumentList.Add("--capture-dir");
        start.ArgumentList.Add(captures);
        start.Environment["POLYNIC_CACHE"] = cache;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Demo_passes_from_a_cold_cache_and_again_from_a_warm_one()
    {
        var cache = Directory.CreateTempSubdirectory("polynic-cold-cache-");
        var captures = Directory.CreateTempSubdirectory("polynic-demo-captures-");
        try
        {
            var cold = await RunDemoAsync(cache.FullName, captures.FullName);
            Assert.True(cold.ExitCode == 0, cold.Output);
            Assert.Contains("Demo passed.", cold.Output);
            Assert.Contains("debootstrap", cold.Output, StringComparison.OrdinalIgnoreCase);

            var warm = await RunDemoAsync(cache.FullName, captures.FullName);
            Assert.True(warm.ExitCode == 0, warm.Output);
            Assert.Contains("Demo passed.", warm.Output);
            Assert.DoesNotContain("debootstrap", warm.Output, StringComparison.OrdinalIgnoreCase);

            // The capture holds the guests' echo requests and replies, readable by tshark.
            var capture = Assert.Single(Directory.GetFiles(captures.FullName, "*.pcapng"));
            var icmp = await HostCommand.RunAsync("tshark", ["-r", capture, "-Y", "icmp", "-T", "fields", "-e", "icmp.type"], TimeSpan.FromMinutes(2));
            var types = icmp.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            Assert.Contains("8", types);
            Assert.Contains("0", types);

            // Nothing the demo started is left: no QEMU, no socket directory.
            var qemu = await HostCommand.RunAsync("pgrep", ["-f", "polynic-demo-"], check: false);
            Assert.True(string.IsNullOrWhiteSpace(qemu), "left running: " + qemu);
        }
        finally
        {
            cache.Delete(recursive: true);
            captures.Delete(recursive: true);
        }
    }
}
