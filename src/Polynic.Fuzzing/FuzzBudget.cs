namespace Polynic.Fuzzing;

/// <summary>
/// How much fuzzing a campaign may do: a number of operations, a wall-clock duration, or both
/// (whichever is reached first ends it).
/// </summary>
public readonly record struct FuzzBudget
{
    /// <summary>A budget of <paramref name="operations"/> operations and/or <paramref name="duration"/>.</summary>
    /// <exception cref="ArgumentException">Neither limit is given, or one is not positive.</exception>
    public FuzzBudget(long? operations, TimeSpan? duration)
    {
        if (operations is null && duration is null) throw new ArgumentException("a fuzzing budget needs an operation count or a duration");
        if (operations is <= 0) throw new ArgumentException($"an operation budget of {operations} is not positive");
        if (duration is { } d && d <= TimeSpan.Zero) throw new ArgumentException($"a duration budget of {d} is not positive");
        Operations = operations;
        Duration = duration;
    }

    /// <summary>At most <paramref name="operations"/> operations.</summary>
    public static FuzzBudget ForOperations(long operations) => new(operations, null);

    /// <summary>At most <paramref name="duration"/> of fuzzing.</summary>
    public static FuzzBudget ForDuration(TimeSpan duration) => new(null, duration);

    /// <summary>The operation limit, if any.</summary>
    public long? Operations { get; }

    /// <summary>The time limit, if any.</summary>
    public TimeSpan? Duration { get; }

    /// <summary>Whether a campaign that did <paramref name="operations"/> in <paramref name="elapsed"/> must stop.</summary>
    public bool IsSpent(long operations, TimeSpan elapsed) =>
        (Operations is { } n && operations >= n) || (Duration is { } d && elapsed >= d);

    /// <summary>Operations still allowed after <paramref name="operations"/> (<see cref="long.MaxValue"/> without an operation limit).</summary>
    public long RemainingOperations(long operations) => Operations is { } n ? Math.Max(0, n - operations) : long.MaxValue;

    /// <inheritdoc/>
    public override string ToString() => (Operations, Duration) switch
    {
        ({ } n, { } d) => $"{n:N0} operations or {d.TotalSeconds:0.#} s",
        ({ } n, null) => $"{n:N0} operations",
        (null, { } d) => $"{d.TotalSeconds:0.#} s",
        _ => "none",
    };
}
