using Polynic.Core.Memory;

namespace Polynic.Fuzzing.Devices;

/// <summary>How a device fuzzing campaign runs.</summary>
public sealed record DeviceFuzzOptions
{
    /// <summary>Operations per run by default: each run starts from a fresh machine and device.</summary>
    public const int DefaultRunLength = 10_000;

    /// <summary>
    /// The first run's seed; each later run takes <see cref="FuzzRandom.NextSeed"/> of the one before,
    /// so any run replays alone from its own seed.
    /// </summary>
    public ulong Seed { get; init; }

    /// <summary>Operations and/or time for the whole campaign of one target.</summary>
    public FuzzBudget Budget { get; init; } = FuzzBudget.ForOperations(100_000);

    /// <summary>Operations per run (fewer in the last run if the budget ends it).</summary>
    public int RunLength { get; init; } = DefaultRunLength;

    /// <summary>Within a run, the device is reset and sanity-checked after every this many operations (and at the run's end).</summary>
    public int SanityInterval { get; init; } = 100_000;

    /// <summary>A step that takes longer is a hang.</summary>
    public TimeSpan StepLimit { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A step still running after this is given up on (its thread stays blocked) and ends the campaign of its target.</summary>
    public TimeSpan AbandonAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The campaign of a target stops after this many failing runs: a shallow bug fails every run
    /// within a few operations, and thousands of copies of it would say nothing more.
    /// </summary>
    public int MaxFailures { get; init; } = 100;

    /// <summary>Guest RAM of the machine, in bytes (at least <see cref="SanityLayout.MinimumRam"/>).</summary>
    public int RamSize { get; init; } = 4 << 20;

    /// <summary>Where each failing run is written as a corpus entry (CORPUS/personality/seed.txt); null for nowhere.</summary>
    public string? CorpusDirectory { get; init; }

    /// <summary>
    /// A layer put between the device's DMA and guest RAM. Only for the fuzzer's own tests: a leaky
    /// one proves that an access outside RAM that succeeds is caught.
    /// </summary>
    internal Func<IGuestMemory, IGuestMemory>? MemoryLayer { get; init; }
}
