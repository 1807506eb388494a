using Polynic.Fuzzing.Devices;
using Xunit.Abstractions;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// Every run the device fuzzer kept stays a regression test: each device entry of Corpus/ (written
/// by <c>polynic fuzz devices --corpus tests/Polynic.Fuzzing.Tests/Corpus</c>) is replayed for its
/// operations and must break no invariant. Entries of other fuzzers are theirs to replay.
/// </summary>
[Collection(ModulesCollection.Name)]
public sealed class CorpusReplayTests(ModulesFixture modules, ITestOutputHelper output)
{
    private static string Corpus => Path.Combine(AppContext.BaseDirectory, "Corpus");

    [Fact]
    public void Every_device_corpus_entry_replays_without_failure()
    {
        var entries = CorpusEntry.ReadAll(Corpus).Where(e => e.Entry.Fuzzer == DeviceFuzzer.Name).ToArray();
        Assert.NotEmpty(entries);
        var failures = new List<string>();
        foreach (var (path, entry) in entries)
        {
            var report = DeviceFuzzer.Replay(modules.Target(entry.Target), entry);
            output.WriteLine($"{Path.GetRelativePath(Corpus, path)}: {report.Operations} operations, {(report.Passed ? "passed" : "FAILED")}");
            Assert.Equal(entry.Operations, report.Operations);
            failures.AddRange(report.Failures.Select(f => $"{Path.GetRelativePath(Corpus, path)}: {f}"));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
