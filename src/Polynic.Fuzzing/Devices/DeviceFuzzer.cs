using System.Diagnostics;
using System.Globalization;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The device fuzzer: drives one personality in the in-process test machine the way a hostile guest
/// and a hostile network would, in runs of a fresh machine and device each, checking after every
/// operation that no exception escaped, the device did not fail, no DMA outside guest RAM
/// succeeded, the interrupt and port contracts held and the operation returned within the step
/// limit; and periodically that the device, reset, still answers and moves frames.
/// </summary>
/// <remarks>
/// Single-threaded and deterministic: every choice comes from the run's seed, device threads are
/// kept out (see the profiles), timers run on a manual clock. A failing run is written to the
/// corpus with its seed and operation count; <see cref="Replay"/> runs it again.
/// </remarks>
public static class DeviceFuzzer
{
    /// <summary>The fuzzer's name in corpus entries.</summary>
    public const string Name = "devices";

    /// <summary>Fuzzes <paramref name="target"/> within <paramref name="options"/>' budget.</summary>
    /// <param name="target">The personality.</param>
    /// <param name="options">Seed, budget, run length, limits, corpus.</param>
    /// <param name="progress">Called between runs with the report so far (on the fuzzing thread); null for none.</param>
    /// <returns>Operations, speed, counters and every failure with its reproducer.</returns>
    public static FuzzReport Run(DeviceTarget target, DeviceFuzzOptions options, Action<FuzzReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        if (options.RunLength < 1 || options.SanityInterval < 1) throw new ArgumentException("the run length and sanity interval must be positive");
        if (options.RamSize < SanityLayout.MinimumRam) throw new ArgumentException($"guest RAM of {options.RamSize} bytes is below the {SanityLayout.MinimumRam} the sanity drivers need");

        var report = new FuzzReport(target.Name) { Seed = options.Seed };
        var watchdog = new StepWatchdog(options.StepLimit, options.AbandonAfter);
        var clock = Stopwatch.StartNew();
        ulong current = options.Seed;
        bool finished = watchdog.Run($"fuzz {target.Name}", () =>
        {
            ulong seed = options.Seed;
            while (!options.Budget.IsSpent(report.Operations, clock.Elapsed))
            {
                Volatile.Write(ref current, seed);
                long length = Math.Min(options.RunLength, options.Budget.RemainingOperations(report.Operations));
                var outcome = new DeviceRun(target, options, seed, watchdog).Execute(length, () => options.Budget.IsSpent(0, clock.Elapsed));
                if (outcome is null) return;
                report.Runs++;
                Merge(report, outcome);
                if (outcome.Failure is { } f) Record(report, options, seed, f.Kind, f.Operation, f.Detail);
                report.Elapsed = clock.Elapsed;
                progress?.Invoke(report);
                seed = FuzzRandom.NextSeed(seed);
                if (report.FailureCount >= options.MaxFailures)
                {
                    report.Count(Counters.StoppedAtFailureLimit);
                    return;
                }
            }
        }, (step, running) => Record(report, options, Volatile.Read(ref current), FuzzFailureKind.Hang, step + 1,
            $"an operation had not returned after {running.TotalSeconds:0.0} s; the run was given up"));
        report.Elapsed = clock.Elapsed;
        if (!finished) report.Count("runs given up", 1);
        return report;
    }

    /// <summary>Replays a corpus entry: the one run it names, for its number of operations.</summary>
    /// <exception cref="ArgumentException">The entry is not the device fuzzer's, or not for this target.</exception>
    public static FuzzReport Replay(DeviceTarget target, CorpusEntry entry, DeviceFuzzOptions? options = null)
    {
        if (entry.Fuzzer != Name) throw new ArgumentException($"a corpus entry of the '{entry.Fuzzer}' fuzzer, not '{Name}'");
        if (!string.Equals(entry.Target, target.Name, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"a corpus entry for '{entry.Target}', not '{target.Name}'");
        options ??= new DeviceFuzzOptions();
        return Run(target, options with
        {
            Seed = entry.Seed,
            Budget = FuzzBudget.ForOperations(entry.Operations),
            RunLength = (int)entry.GetInteger(RunLengthSetting, options.RunLength),
            SanityInterval = (int)entry.GetInteger(SanityIntervalSetting, options.SanityInterval),
            RamSize = (int)entry.GetInteger(RamSizeSetting, options.RamSize),
            CorpusDirectory = null,
        });
    }

    private const string RunLengthSetting = "run-length", SanityIntervalSetting = "sanity-interval", RamSizeSetting = "ram-size";

    /// <summary>The corpus entry that replays run <paramref name="seed"/> for <paramref name="operations"/> operations.</summary>
    internal static CorpusEntry Entry(string target, DeviceFuzzOptions options, ulong seed, long operations, string? note) =>
        new(Name, target, seed, Math.Max(1, operations), new Dictionary<string, string>
        {
            [RunLengthSetting] = options.RunLength.ToString(CultureInfo.InvariantCulture),
            [SanityIntervalSetting] = options.SanityInterval.ToString(CultureInfo.InvariantCulture),
            [RamSizeSetting] = options.RamSize.ToString(CultureInfo.InvariantCulture),
        }, note);

    private static void Record(FuzzReport report, DeviceFuzzOptions options, ulong seed, FuzzFailureKind kind, long operation, string detail)
    {
        var entry = Entry(report.Target, options, seed, operation, $"{kind} at operation {operation}: {detail}");
        if (report.Add(new FuzzFailure(kind, operation, detail, entry)) && options.CorpusDirectory is { } corpus) entry.Write(corpus);
    }

    private static void Merge(FuzzReport report, RunOutcome o)
    {
        report.Operations += o.Operations;
        report.SlowOperations += o.SlowSteps;
        if (o.SlowestStep > report.SlowestOperation) report.SlowestOperation = o.SlowestStep;
        foreach (var kind in Enum.GetValues<StepKind>()) report.Count("operations: " + StepNames[(int)kind], o.Steps[(int)kind]);
        report.Count(Counters.SanityChecks, o.SanityChecks);
        report.Count(Counters.DmaReads, o.DmaReads);
        report.Count(Counters.DmaWrites, o.DmaWrites);
        report.Count(Counters.RefusedOutsideRam, o.RefusedOutsideRam);
        report.Count(Counters.RefusedBusMasterOff, o.RefusedBusMasterOff);
        report.Count(Counters.FramesSent, o.FramesSent);
        report.Count(Counters.Messages, o.Messages);
        report.Count(Counters.IntxEdges, o.IntxEdges);
        report.AddDigest(o.Trace);
        foreach (var (name, value) in o.DeviceCounters) report.Count("device " + name, value);
    }

    private static readonly string[] StepNames =
        ["BAR read", "BAR write", "config read", "config write", "interrupt mode", "guest memory", "frame in", "doorbell", "reset", "link", "clock"];

    /// <summary>Names of the counters a device fuzzing report carries.</summary>
    public static class Counters
    {
        /// <summary>1 when the campaign stopped early at <see cref="DeviceFuzzOptions.MaxFailures"/>.</summary>
        public const string StoppedAtFailureLimit = "stopped at the failure limit";
        /// <summary>Reset-and-sanity checks passed.</summary>
        public const string SanityChecks = "sanity checks";
        /// <summary>DMA reads the devices attempted.</summary>
        public const string DmaReads = "DMA reads";
        /// <summary>DMA writes the devices attempted.</summary>
        public const string DmaWrites = "DMA writes";
        /// <summary>DMA outside guest RAM, refused as it must be.</summary>
        public const string RefusedOutsideRam = "out-of-range accesses refused";
        /// <summary>DMA refused because the guest had bus mastering off.</summary>
        public const string RefusedBusMasterOff = "DMA refused, bus mastering off";
        /// <summary>Frames the devices sent to the port.</summary>
        public const string FramesSent = "frames out";
        /// <summary>MSI and MSI-X messages.</summary>
        public const string Messages = "interrupt messages";
        /// <summary>Rising INTx edges.</summary>
        public const string IntxEdges = "INTx edges";
    }
}
