using System.Diagnostics;

namespace Polynic.Fuzzing.Protocol;

/// <summary>Settings of a protocol fuzzing campaign.</summary>
public sealed record ProtocolFuzzOptions
{
    /// <summary>The first session's seed; each session takes the next in the chain.</summary>
    public ulong Seed { get; init; }

    /// <summary>Messages to send, or time to spend, in all.</summary>
    public FuzzBudget Budget { get; init; } = FuzzBudget.ForOperations(100_000);

    /// <summary>Messages per session (connection) at most; sessions also end when the server closes them.</summary>
    public int SessionLength { get; init; } = 400;

    /// <summary>
    /// How long a reply may take while the connection stays open. The server itself waits up to
    /// 5 s for a DMA reply the fuzzer may withhold, so this is well above that.
    /// </summary>
    public TimeSpan ReplyLimit { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the sentinel's register read on another device may take before it counts as interference.</summary>
    public TimeSpan SentinelLimit { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where each failing session is written as CORPUS/protocol/seed.txt; null writes nothing.</summary>
    public string? CorpusDirectory { get; init; }

    /// <summary>
    /// Check that the process's open descriptors do not grow over the campaign (only meaningful
    /// when the server runs in this process, as <see cref="ProtocolTarget"/> serves it): every
    /// descriptor a client passes must be closed when its session ends.
    /// </summary>
    public bool CheckDescriptorLeaks { get; init; }
}

/// <summary>
/// The vfio-user protocol fuzzer: structure-aware messages over real sockets to a running
/// server (valid headers with mutated fields, descriptors of the wrong kind and flags, DMA maps at
/// the limits, interleavings of map/unmap/region access/reset/disconnect, DMA requests answered
/// wrongly or never), while a well-behaved sentinel client keeps using another device of the same
/// process. Invariants: every command that wants a reply gets one in time or the server closes
/// the connection; the server never breaks the protocol; after every session the device accepts
/// a new client; the sentinel's device answers in time throughout.
/// </summary>
public static class ProtocolFuzzer
{
    /// <summary>The fuzzer's name in corpus entries.</summary>
    public const string Name = "protocol";

    /// <summary>Counter names of the report.</summary>
    public static class Counters
    {
        /// <summary>Connections made.</summary>
        public const string Sessions = "sessions";
        /// <summary>Sessions the server ended (refused framing, unanswered DMA, and the like).</summary>
        public const string ClosedByServer = "sessions closed by the server";
        /// <summary>Error replies received.</summary>
        public const string ErrorReplies = "error replies";
        /// <summary>DMA_READ/WRITE requests the server made.</summary>
        public const string ServerRequests = "server DMA requests";
        /// <summary>Sentinel round trips.</summary>
        public const string SentinelChecks = "sentinel checks";
        /// <summary>The slowest sentinel round trip, in milliseconds.</summary>
        public const string SentinelWorstMilliseconds = "sentinel worst ms";
        /// <summary>Open descriptors after warm-up.</summary>
        public const string DescriptorsAfterWarmUp = "open fds after warm-up";
        /// <summary>Open descriptors at the end, once the last session was torn down.</summary>
        public const string DescriptorsAtEnd = "open fds at end";
    }

    // Sessions before the descriptor baseline is taken: the runtime and the server open a few
    // descriptors of their own on first use (thread pool, eventfds of the first sessions).
    private const int WarmUpSessions = 20;
    // Growth tolerated between warm-up and end: a handful the runtime may still open lazily,
    // far below one per session.
    private const int DescriptorSlack = 16;

    /// <summary>
    /// Fuzzes the devices behind <paramref name="targets"/> (socket paths) until the budget is spent,
    /// with a sentinel on <paramref name="sentinel"/> if given.
    /// </summary>
    public static FuzzReport Run(IReadOnlyList<string> targets, string? sentinel, ProtocolFuzzOptions options, Action<FuzzReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(targets.Count);
        var report = new FuzzReport(Name) { Seed = options.Seed };
        using var watcher = sentinel is null ? null : new Sentinel(sentinel, options.SentinelLimit);
        var clock = Stopwatch.StartNew();
        ulong seed = options.Seed;
        long lastProgress = 0;
        int? baseline = null;
        while (!options.Budget.IsSpent(report.Operations, clock.Elapsed) && !cancellationToken.IsCancellationRequested)
        {
            var random = new FuzzRandom(seed);
            string target = targets[random.Below(targets.Count)];
            RunSession(target, random, options, report);
            report.Runs++;
            seed = FuzzRandom.NextSeed(seed);
            if (options.CheckDescriptorLeaks && report.Runs == WarmUpSessions) baseline = SettledDescriptors(targets);
            if (watcher?.Failure is { } interference)
            {
                report.Add(new FuzzFailure(FuzzFailureKind.Invariant, report.Operations, interference, Reproducer(random.Seed, options)));
                break;
            }
            if (report.Failures.Count > 0) break;
            if (progress is not null && clock.ElapsedMilliseconds - lastProgress >= 10_000)
            {
                lastProgress = clock.ElapsedMilliseconds;
                report.Elapsed = clock.Elapsed;
                progress(report);
            }
        }
        report.Elapsed = clock.Elapsed;
        if (baseline is { } before && report.Failures.Count == 0)
        {
            int after = SettledDescriptors(targets);
            report.Count(Counters.DescriptorsAfterWarmUp, before);
            report.Count(Counters.DescriptorsAtEnd, after);
            if (after > before + DescriptorSlack)
                report.Add(new FuzzFailure(FuzzFailureKind.Invariant, report.Operations,
                    $"open descriptors grew from {before} after warm-up to {after} at the end: sessions leak descriptors", Reproducer(options.Seed, options)));
        }
        if (watcher is not null)
        {
            report.Count(Counters.SentinelChecks, watcher.Checks);
            report.Count(Counters.SentinelWorstMilliseconds, watcher.WorstMilliseconds);
        }
        foreach (var failure in report.Failures)
            if (options.CorpusDirectory is { } corpus) failure.Reproducer.Write(corpus);
        return report;
    }

    private static void RunSession(string target, FuzzRandom random, ProtocolFuzzOptions options, FuzzReport report)
    {
        // The device serves one client at a time; the previous session may still be tidying up.
        using var client = ConnectWithin(target, TimeSpan.FromSeconds(20));
        if (client is null)
        {
            report.Add(new FuzzFailure(FuzzFailureKind.Hang, report.Operations, $"{target} accepted no new client within 20 s", Reproducer(random.Seed, options)));
            return;
        }
        report.Count(Counters.Sessions);
        var session = new ProtocolSession(client, random, options.ReplyLimit);
        long budgetLeft = options.Budget.RemainingOperations(report.Operations);
        var end = session.Run((int)Math.Min(options.SessionLength, budgetLeft));
        report.Operations += session.MessagesSent;
        report.Count(Counters.ErrorReplies, session.ErrorReplies);
        report.Count(Counters.ServerRequests, session.ServerRequests);
        switch (end)
        {
            case SessionEnd.ClosedByServer:
                report.Count(Counters.ClosedByServer);
                break;
            case SessionEnd.Hang:
                report.Add(new FuzzFailure(FuzzFailureKind.Hang, report.Operations, $"{target}: {session.Detail}", Reproducer(random.Seed, options)));
                break;
            case SessionEnd.ProtocolBreach:
                report.Add(new FuzzFailure(FuzzFailureKind.Invariant, report.Operations, $"{target}: {session.Detail}", Reproducer(random.Seed, options)));
                break;
        }
    }

    /// <summary>
    /// The process's open descriptors once every target served a fresh client, i.e. once the
    /// previous sessions were torn down (a device serves one client at a time).
    /// </summary>
    private static int SettledDescriptors(IReadOnlyList<string> targets)
    {
        foreach (var target in targets)
        {
            using var probe = ConnectWithin(target, TimeSpan.FromSeconds(20));
            var version = new ProtocolMessages(new FuzzRandom(0)).Version();
            if (probe is null || !probe.Send(version.Bytes)) continue;
            try { probe.Receive(Environment.TickCount64 + 20_000); } catch (TimeoutException) { }
        }
        Thread.Sleep(200);
        return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
    }

    private static WireClient? ConnectWithin(string path, TimeSpan limit)
    {
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (true)
        {
            var client = WireClient.TryConnect(path);
            if (client is not null || Environment.TickCount64 >= deadline) return client;
            Thread.Sleep(10);
        }
    }

    private static CorpusEntry Reproducer(ulong seed, ProtocolFuzzOptions options) =>
        new(Name, "vfio-user", seed, options.SessionLength, new Dictionary<string, string>());
}
