using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Polynic.Cli.Serving;
using Polynic.Fuzzing;
using Polynic.Fuzzing.Devices;

namespace Polynic.Cli.Commands;

/// <summary>
/// <c>polynic fuzz ...</c>: the fuzzers. <c>devices</c> drives personalities in the in-process test
/// machine; each fuzzer is one subcommand of the parent, built from the shared budget and seed options.
/// </summary>
internal static class FuzzCommand
{
    public static Command Create()
    {
        var command = new Command("fuzz", "Fuzz Polynic at scale; every failure is printed with the seed that replays it. Exit 1 on any failure.");
        command.Subcommands.Add(Devices());
        command.Subcommands.Add(FuzzProtocolCommand.Create());
        return command;
    }

    /// <summary>--operations N: the budget's operation count (per target).</summary>
    public static Option<long?> OperationsOption() => new("--operations", "-n") { Description = "Operations per target (default 100000 when --seconds is not given either)." };

    /// <summary>--seconds S: the budget's duration (per target).</summary>
    public static Option<double?> SecondsOption() => new("--seconds", "-t") { Description = "Seconds per target; with --operations, whichever comes first." };

    /// <summary>--seed N: the first run's seed (decimal or 0x hexadecimal; random and printed when absent).</summary>
    public static Option<string?> SeedOption() => new("--seed") { Description = "Seed of the first run, decimal or 0x hexadecimal (default: a fresh one, printed)." };

    /// <summary>The budget the options give, or an error message.</summary>
    public static FuzzBudget Budget(long? operations, double? seconds) =>
        operations is null && seconds is null ? FuzzBudget.ForOperations(100_000)
            : new FuzzBudget(operations, seconds is { } s ? TimeSpan.FromSeconds(s) : null);

    /// <summary>The seed the option gives, or a fresh one.</summary>
    /// <exception cref="FormatException">The text is not a number.</exception>
    public static ulong Seed(string? text)
    {
        if (text is null) return FuzzRandom.FreshSeed();
        return CorpusEntry.TryParse(text, out ulong seed) ? seed : throw new FormatException($"--seed '{text}' is not a decimal or 0x hexadecimal number");
    }

    private static Command Devices()
    {
        var personalities = new Option<string[]>("--personality", "-p")
        {
            Description = "A personality to fuzz (repeat for more; default: every personality of the modules directory).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var operations = OperationsOption();
        var seconds = SecondsOption();
        var seed = SeedOption();
        var modules = new Option<DirectoryInfo?>("--modules", "-m") { Description = "Modules directory (default: artifacts/modules, where ./polynic builds them)." };
        var corpus = new Option<DirectoryInfo?>("--corpus") { Description = "Write each failing run here as CORPUS/personality/seed.txt (default: ./fuzz-corpus)." };
        var runLength = new Option<int>("--run-length") { Description = "Operations per run: each run is a fresh machine and device.", DefaultValueFactory = _ => DeviceFuzzOptions.DefaultRunLength };
        var stepLimit = new Option<int>("--step-limit-ms") { Description = "An operation slower than this is a hang.", DefaultValueFactory = _ => 1000 };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Personalities fuzzed at once (each on one thread).", DefaultValueFactory = _ => 1 };

        var command = new Command("devices", "Fuzz personalities in the in-process machine: BAR and config accesses, interrupt modes, adversarial guest RAM, frames, doorbells, resets.");
        foreach (var option in new Option[] { personalities, operations, seconds, seed, modules, corpus, runLength, stepLimit, jobs }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            DeviceFuzzOptions options;
            try
            {
                options = new DeviceFuzzOptions
                {
                    Seed = Seed(parse.GetValue(seed)),
                    Budget = Budget(parse.GetValue(operations), parse.GetValue(seconds)),
                    RunLength = parse.GetValue(runLength),
                    StepLimit = TimeSpan.FromMilliseconds(parse.GetValue(stepLimit)),
                    CorpusDirectory = (parse.GetValue(corpus) ?? new DirectoryInfo("fuzz-corpus")).FullName,
                };
                if (options.RunLength < 1 || options.StepLimit <= TimeSpan.Zero || parse.GetValue(jobs) < 1)
                    throw new ArgumentException("--run-length, --step-limit-ms and --jobs must be positive");
                options = options with { AbandonAfter = TimeSpan.FromTicks(Math.Max(options.StepLimit.Ticks * 10, TimeSpan.FromSeconds(10).Ticks)) };
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"polynic fuzz devices: {e.Message}");
                return 2;
            }

            Polynic.Modules.ModuleCatalog catalog;
            try
            {
                catalog = ModulesDirectory.Load(parse.GetValue(modules), Console.Error);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"polynic fuzz devices: {e.Message}");
                return 1;
            }
            var names = parse.GetValue(personalities) is { Length: > 0 } given ? given : catalog.Personalities().Select(p => p.Name).ToArray();
            var targets = new List<DeviceTarget>();
            foreach (var name in names)
            {
                try
                {
                    targets.Add(DeviceTarget.FromCatalog(catalog, name));
                }
                catch (Exception e) when (e is KeyNotFoundException or ArgumentException or InvalidOperationException)
                {
                    Console.Error.WriteLine($"polynic fuzz devices: {e.Message}");
                    return 2;
                }
            }

            Console.WriteLine($"fuzzing {string.Join(", ", targets.Select(t => t.Name))}: seed 0x{options.Seed:x16}, {options.Budget} each, " +
                $"runs of {options.RunLength:N0}, step limit {options.StepLimit.TotalMilliseconds:0} ms, {Environment.ProcessorCount} cores, jobs {parse.GetValue(jobs)}");
            var reports = new FuzzReport?[targets.Count];
            var output = new object();
            Parallel.For(0, targets.Count, new ParallelOptions { MaxDegreeOfParallelism = parse.GetValue(jobs) }, i =>
            {
                var lastProgress = Stopwatch.StartNew();
                reports[i] = DeviceFuzzer.Run(targets[i], options, report =>
                {
                    if (lastProgress.Elapsed < TimeSpan.FromSeconds(60)) return;
                    lastProgress.Restart();
                    lock (output) Console.Error.WriteLine($"  {report.Target}: {report.Operations:N0} operations, {report.ExecutionsPerSecond:N0}/s, {report.Failures.Count} failures");
                });
                lock (output) Print(reports[i]!, options);
            });
            long failures = reports.Sum(r => r!.FailureCount);
            Console.WriteLine(failures == 0 ? "no failures" : $"{failures} failures, {reports.Sum(r => r!.Failures.Count)} distinct; corpus entries in {options.CorpusDirectory}");
            return failures == 0 ? 0 : 1;
        });
        return command;
    }

    private static void Print(FuzzReport report, DeviceFuzzOptions options)
    {
        string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        Console.WriteLine($"{report.Target,-12} operations {N(report.Operations),13}  exec/s {N((long)report.ExecutionsPerSecond),9}  failures {report.FailureCount} ({report.Failures.Count} distinct)  " +
            $"out-of-range refused {N(report[DeviceFuzzer.Counters.RefusedOutsideRam]),11}  hangs {report.Hangs}  " +
            $"({report.Elapsed.TotalSeconds:0.0} s, {N(report.Runs)} runs, {N(report[DeviceFuzzer.Counters.SanityChecks])} sanity checks, " +
            $"slowest operation {report.SlowestOperation.TotalMilliseconds:0} ms wall, {N(report.SlowOperations)} over the limit on the wall clock only, digest {report.Digest:x16})");
        Console.WriteLine("    " + string.Join(", ", report.Counters.Where(c => c.Key != DeviceFuzzer.Counters.RefusedOutsideRam).Select(c => $"{c.Key} {N(c.Value)}")));
        foreach (var f in report.Failures)
        {
            Console.WriteLine($"  FAILURE {f}");
            Console.WriteLine($"    replay: polynic fuzz devices --personality {report.Target} --seed 0x{f.Reproducer.Seed:x16} --operations {f.Operation}" +
                (options.RunLength != DeviceFuzzOptions.DefaultRunLength ? $" --run-length {options.RunLength}" : ""));
        }
    }
}
