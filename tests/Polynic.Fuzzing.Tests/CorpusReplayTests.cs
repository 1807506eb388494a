using Polynic.Fuzzing.Devices;
using Xunit.Abstractions;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// Every run the fuzzer ever failed on stays a regression test: each entry of Corpus/ (written by
/// <c>polynic fuzz devices --corpus tests/Polynic.Fuzzing.Tests/Corpus</c>) is replayed and must now
/// break no invariant.
/// </summary>
[Collection(ModulesCollection.Name)]
public sealed class CorpusReplayTests(ModulesFixture modules, ITestOutputHelper output)
{
    private static string Corpus => Path.Combine(AppContext.BaseDirectory, "Corpus");

    [Fact]
    public void Every_corpus_entry_replays_without_failure()
    {
        var entries = CorpusEntry.ReadAll(Corpus);
        Assert.NotEmpty(entries);
        var failures = new List<string>();
        foreach (var (path, entry) in entries)
        {
            Assert.Equal(DeviceFuzzer.Name, entry.Fuzzer);
            var report = DeviceFuzzer.Replay(modules.Target(entry.Target), entry);
            output.WriteLine($"{Path.GetRelativePath(Corpus, path)}: {report.Operations} operations, {(report.Passed ? "passed" : "FAILED")}");
            Assert.Equal(entry.Operations, report.Operations);
            failures.AddRange(report.Failures.Select(f => $"{Path.GetRelativePath(Corpus, path)}: {f}"));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Every_personality_directory_in_the_corpus_names_a_loaded_personality()
    {
        foreach (var directory in Directory.EnumerateDirectories(Corpus))
            Assert.True(modules.Catalog.TryGetFactory(Path.GetFileName(directory), out _), directory);
    }
}
