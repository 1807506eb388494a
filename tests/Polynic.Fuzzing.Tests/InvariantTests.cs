using Polynic.Fuzzing.Devices;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// The device fuzzer has teeth: each invariant it checks reports a toy device broken in exactly that
/// way, with a seed that replays the failure, and a well-behaved toy passes.
/// </summary>
public sealed class InvariantTests : IDisposable
{
    private readonly string _corpus = Path.Combine(Path.GetTempPath(), $"polynic-corpus-{Guid.NewGuid():N}");

    private static DeviceFuzzOptions Options => new()
    {
        Seed = 7,
        Budget = FuzzBudget.ForOperations(20_000),
        RunLength = 2_000,
        RamSize = (int)ToyDevice.RamSize,
        MaxFailures = 10,
        StepLimit = TimeSpan.FromMilliseconds(150),
        AbandonAfter = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public void A_well_behaved_device_passes()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.None), Options);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.Equal(20_000, report.Operations);
        Assert.True(report["operations: doorbell"] == 0 && report["operations: BAR write"] > 1_000);
    }

    [Fact]
    public void A_device_that_throws_is_reported_and_its_seed_replays_the_failure()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.Throws), Options with { CorpusDirectory = _corpus });

        var failure = Assert.Single(report.Failures.Take(1));
        Assert.Equal(FuzzFailureKind.TargetFailed, failure.Kind);
        Assert.Contains("the toy device broke", failure.Detail);
        // Every failing run is in the corpus, and replaying an entry fails the same way at the same operation.
        var entries = CorpusEntry.ReadAll(_corpus);
        Assert.Equal(report.Failures.Count, entries.Count);
        Assert.True(report.FailureCount > report.Failures.Count, "every run fails the same way; the repeats are counted, not listed");
        var replay = DeviceFuzzer.Replay(ToyDevice.Target(Breakage.Throws), failure.Reproducer);
        var again = Assert.Single(replay.Failures);
        Assert.Equal((failure.Kind, failure.Operation, failure.Detail), (again.Kind, again.Operation, again.Detail));
        Assert.Equal(failure.Operation, replay.Operations);
    }

    [Fact]
    public void A_read_past_the_end_of_ram_is_refused_and_counted()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.ReadsPastRam), Options);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.True(report[DeviceFuzzer.Counters.RefusedOutsideRam] > 0);
    }

    [Fact]
    public void A_read_past_the_end_of_ram_that_succeeds_is_a_failure()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.ReadsPastRam), Options with { MemoryLayer = m => new LeakyMemory(m) });
        var failure = report.Failures[0];
        Assert.Equal(FuzzFailureKind.OutOfRangeAccess, failure.Kind);
        Assert.Contains("succeeded outside RAM", failure.Detail);
    }

    [Fact]
    public void A_slow_operation_is_a_hang()
    {
        // One run: the first trigger ends it. The give-up limit is generous: on a busy host 120 ms of CPU can take seconds.
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.Slow), Options with { Budget = FuzzBudget.ForOperations(500), RunLength = 500, StepLimit = TimeSpan.FromMilliseconds(50), AbandonAfter = TimeSpan.FromSeconds(60) });
        var failure = Assert.Single(report.Failures);
        Assert.Equal(FuzzFailureKind.Hang, failure.Kind);
        Assert.Contains("computed for", failure.Detail);
        Assert.Equal(1, report.Hangs);
    }

    [Fact]
    public void An_operation_that_never_returns_is_a_hang_and_the_run_is_given_up()
    {
        ToyDevice.Release.Reset();
        try
        {
            var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.Stuck), Options);
            var failure = Assert.Single(report.Failures);
            Assert.Equal(FuzzFailureKind.Hang, failure.Kind);
            Assert.Contains("given up", failure.Detail);
            Assert.Equal(1, report["runs given up"]);
            Assert.True(report.Operations < 2_000);
        }
        finally
        {
            ToyDevice.Release.Set();
        }
    }

    [Fact]
    public void A_device_that_stops_answering_after_a_reset_fails_the_sanity_check()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.Wedges), Options);
        var failure = report.Failures[0];
        Assert.Equal(FuzzFailureKind.Sanity, failure.Kind);
        Assert.Contains("magic register", failure.Detail);
    }

    [Fact]
    public void An_exception_that_escapes_the_device_is_a_failure()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.TimerThrows), Options);
        var failure = report.Failures[0];
        Assert.Equal(FuzzFailureKind.Exception, failure.Kind);
        Assert.Contains("the toy device's timer broke", failure.Detail);
    }

    [Fact]
    public void Breaking_the_port_contract_is_a_failure()
    {
        var report = DeviceFuzzer.Run(ToyDevice.Target(Breakage.BreaksPortContract), Options);
        var failure = report.Failures[0];
        Assert.Equal(FuzzFailureKind.Invariant, failure.Kind);
        Assert.Contains("to a port offering", failure.Detail);
    }

    public void Dispose()
    {
        if (Directory.Exists(_corpus)) Directory.Delete(_corpus, recursive: true);
    }
}
