namespace Polynic.Fuzzing;

/// <summary>What kind of invariant a failure broke.</summary>
public enum FuzzFailureKind
{
    /// <summary>An exception escaped to the caller (the transport, in a real server).</summary>
    Exception,

    /// <summary>The target took itself out of service (an exception inside it was caught and fenced off).</summary>
    TargetFailed,

    /// <summary>An access outside guest memory succeeded.</summary>
    OutOfRangeAccess,

    /// <summary>An operation did not return within the step limit.</summary>
    Hang,

    /// <summary>Some other checked rule was broken (an interrupt or port contract).</summary>
    Invariant,

    /// <summary>After a reset the target no longer answered known registers or moved a known frame.</summary>
    Sanity,
}

/// <summary>One broken invariant, with what replays it.</summary>
/// <param name="Kind">Which invariant.</param>
/// <param name="Operation">Operations of its run done when it was seen, the failing one included: replaying that many reproduces it.</param>
/// <param name="Detail">What happened, for a person.</param>
/// <param name="Reproducer">The run to replay: target, seed and operation count.</param>
public sealed record FuzzFailure(FuzzFailureKind Kind, long Operation, string Detail, CorpusEntry Reproducer)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Kind} at operation {Operation} of seed 0x{Reproducer.Seed:x16}: {Detail}";
}

/// <summary>
/// The outcome of fuzzing one target: operations, speed, failures with reproducer seeds, and named
/// counters (what the target refused, how often each kind of operation ran). Shared by every fuzzer
/// of the project; each decides its counter names.
/// </summary>
/// <remarks>Not thread-safe: filled by the thread that fuzzes, read after it finished.</remarks>
public sealed class FuzzReport(string target)
{
    private readonly List<FuzzFailure> _failures = [];
    private readonly HashSet<string> _signatures = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly Dictionary<string, long> _counters = new(StringComparer.Ordinal);

    /// <summary>What was fuzzed (a personality, a protocol).</summary>
    public string Target { get; } = target;

    /// <summary>The campaign's first seed.</summary>
    public ulong Seed { get; set; }

    /// <summary>Operations executed.</summary>
    public long Operations { get; set; }

    /// <summary>Runs (fresh instances of the target) started.</summary>
    public long Runs { get; set; }

    /// <summary>Wall-clock time spent fuzzing.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>Operations over the step limit on the wall clock but not in CPU time: the host was busy, the target did not hang.</summary>
    public long SlowOperations { get; set; }

    /// <summary>The longest operation, wall clock.</summary>
    public TimeSpan SlowestOperation { get; set; }

    /// <summary>Operations per second of wall-clock time.</summary>
    public double ExecutionsPerSecond => Elapsed > TimeSpan.Zero ? Operations / Elapsed.TotalSeconds : 0;

    /// <summary>A digest of what the target answered, run after run: equal for equal seeds if the fuzzer is deterministic.</summary>
    public ulong Digest { get; private set; } = 0xCBF2_9CE4_8422_2325;

    /// <summary>Folds one run's digest into <see cref="Digest"/>.</summary>
    public void AddDigest(ulong value) => Digest = (Digest ^ value) * 0x0000_0100_0000_01B3;

    /// <summary>
    /// Every distinct broken invariant, in the order found: the first failure of each kind and message
    /// (numbers aside), so a shallow bug hit in every run is listed, and kept in the corpus, once.
    /// </summary>
    public IReadOnlyList<FuzzFailure> Failures => _failures;

    /// <summary>Failures seen in all, repeats of a listed one included.</summary>
    public long FailureCount { get; private set; }

    /// <summary>Distinct failures that were hangs.</summary>
    public int Hangs => _failures.Count(f => f.Kind == FuzzFailureKind.Hang);

    /// <summary>Whether nothing broke.</summary>
    public bool Passed => FailureCount == 0;

    /// <summary>Named counters in the order first counted.</summary>
    public IEnumerable<KeyValuePair<string, long>> Counters => _names.Select(n => new KeyValuePair<string, long>(n, _counters[n]));

    /// <summary>The value of counter <paramref name="name"/> (0 if never counted).</summary>
    public long this[string name] => _counters.GetValueOrDefault(name);

    /// <summary>Adds <paramref name="delta"/> to counter <paramref name="name"/>.</summary>
    public void Count(string name, long delta = 1)
    {
        if (!_counters.TryGetValue(name, out long value)) _names.Add(name);
        _counters[name] = value + delta;
    }

    /// <summary>Records a failure; true if it is the first of its kind and message, false for a repeat.</summary>
    public bool Add(FuzzFailure failure)
    {
        FailureCount++;
        string signature = failure.Kind + ":" + new string(failure.Detail.Where(c => !char.IsAsciiDigit(c)).ToArray());
        if (!_signatures.Add(signature)) return false;
        _failures.Add(failure);
        return true;
    }
}
