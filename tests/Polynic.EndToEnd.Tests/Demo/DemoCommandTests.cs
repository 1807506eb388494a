using Polynic.EndToEnd.Tests.Modules;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Demo;

/// <summary>
/// The README's first command, run as a user would: <c>./polynic demo</c> from a cold guest
/// cache (a fresh POLYNIC_CACHE) and again from the warm one.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DemoCommandTests
{
    private static Task<(int ExitCode, string Output)> RunDemoAsync(string cache, string captures) =>
        PolynicProcess.RunAsync(Path.Combine(PolynicProcess.RepositoryRoot(), "polynic"), ["demo", "--capture-dir", captures],
            TimeSpan.FromMinutes(15), new Dictionary<string, string> { ["POLYNIC_CACHE"] = cache });

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
