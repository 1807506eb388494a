using Polynic.Fuzzing.Devices;
using Polynic.Modules;
using Xunit.Abstractions;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// A bounded run of the device fuzzer against every personality, loaded through the module
/// catalog: no invariant breaks, the sanity check runs and passes, and the fuzzer reached the
/// device's data path (DMA, frames), so a quiet report means something.
/// </summary>
[Collection(ModulesCollection.Name)]
public sealed class DeviceFuzzSmokeTests(ModulesFixture modules, ITestOutputHelper output)
{
    private static readonly DeviceFuzzOptions Options = new()
    {
        Seed = 0x5EED_0012,
        Budget = new FuzzBudget(20_000, TimeSpan.FromSeconds(4)),
        RunLength = 5_000,
    };

    [Fact]
    public void Every_module_loads()
    {
        Assert.All(modules.Modules, m => Assert.True(m.State == ModuleState.Loaded, m.ToString()));
        foreach (var name in ModulesFixture.Personalities) Assert.True(modules.Catalog.TryGetFactory(name, out _), name);
    }

    [Theory]
    [InlineData("e1000", true)]
    [InlineData("e1000e", true)]
    [InlineData("rtl8139", true)]
    [InlineData("rtl8139cp", true)]
    [InlineData("ne2000", true)]
    [InlineData("virtio-net", true)]
    [InlineData("scratchpad", false)]
    [InlineData("diagnostic", false)]
    public void Fuzzing_breaks_no_invariant(string personality, bool nic)
    {
        var report = DeviceFuzzer.Run(modules.Target(personality), Options);
        output.WriteLine($"{personality}: {report.Operations:N0} operations, {report.ExecutionsPerSecond:N0}/s, {report.Runs} runs");
        foreach (var (name, value) in report.Counters) output.WriteLine($"  {name} {value:N0}");

        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.True(report.Operations >= 1_000, $"only {report.Operations} operations");
        Assert.True(report[DeviceFuzzer.Counters.SanityChecks] >= 1);
        if (nic)
        {
            // Frames went out (at least the sanity checks' own) and frames were injected.
            Assert.True(report[DeviceFuzzer.Counters.FramesSent] >= report[DeviceFuzzer.Counters.SanityChecks]);
            Assert.True(report["operations: frame in"] > 0);
        }
    }

    [Theory]
    [InlineData("e1000")]
    [InlineData("virtio-net")]
    [InlineData("ne2000")]
    public void A_seed_replays_the_same_campaign(string personality)
    {
        var options = Options with { Budget = FuzzBudget.ForOperations(6_000), RunLength = 2_000 };
        var first = DeviceFuzzer.Run(modules.Target(personality), options);
        var second = DeviceFuzzer.Run(modules.Target(personality), options);
        var other = DeviceFuzzer.Run(modules.Target(personality), options with { Seed = options.Seed + 1 });

        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(first.Counters, second.Counters);
        Assert.NotEqual(first.Digest, other.Digest);
    }
}
