namespace Polynic.Fuzzing;

/// <summary>
/// The fuzzers' only source of randomness: xoshiro256** seeded through SplitMix64. A seed gives
/// the same choices on every machine and .NET version, which <see cref="System.Random"/> does not
/// promise, so a seed written to a corpus file still replays the same run years later.
/// </summary>
/// <remarks>Not thread-safe: one instance per fuzzing thread.</remarks>
public sealed class FuzzRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator whose whole sequence is determined by <paramref name="seed"/>.</summary>
    public FuzzRandom(ulong seed)
    {
        Seed = seed;
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>The seed the generator was created with.</summary>
    public ulong Seed { get; }

    /// <summary>
    /// The seed after <paramref name="seed"/> in a chain of run seeds: each run of a campaign takes
    /// the next, so any run replays alone from its own seed.
    /// </summary>
    public static ulong NextSeed(ulong seed)
    {
        ulong x = seed;
        return SplitMix(ref x);
    }

    /// <summary>A seed from the clock, for campaigns not given one (it is printed, so the campaign can be repeated).</summary>
    public static ulong FreshSeed()
    {
        ulong x = (ulong)DateTime.UtcNow.Ticks ^ (ulong)Environment.ProcessId << 32;
        return SplitMix(ref x);
    }

    /// <summary>64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>32 random bits.</summary>
    public uint NextUInt32() => (uint)(NextUInt64() >> 32);

    /// <summary>A value in [0, <paramref name="bound"/>); 0 when the bound is 0.</summary>
    public ulong Below(ulong bound) => (ulong)(((UInt128)NextUInt64() * bound) >> 64);

    /// <summary>A value in [0, <paramref name="bound"/>); 0 when the bound is 0 or less.</summary>
    public int Below(int bound) => bound <= 0 ? 0 : (int)Below((ulong)bound);

    /// <summary>A value in [<paramref name="minimum"/>, <paramref name="maximum"/>].</summary>
    public int Between(int minimum, int maximum) => minimum + Below(maximum - minimum + 1);

    /// <summary>True with probability 1/<paramref name="n"/>.</summary>
    public bool OneIn(int n) => Below(n) == 0;

    /// <summary>True with probability <paramref name="percent"/>/100.</summary>
    public bool Percent(int percent) => Below(100) < percent;

    /// <summary>A fair coin.</summary>
    public bool Coin() => (NextUInt64() >> 63) != 0;

    /// <summary>One of <paramref name="items"/>, uniformly.</summary>
    /// <exception cref="ArgumentException">The span is empty.</exception>
    public T Pick<T>(ReadOnlySpan<T> items)
    {
        if (items.IsEmpty) throw new ArgumentException("nothing to pick from", nameof(items));
        return items[Below(items.Length)];
    }

    /// <summary>An index into <paramref name="weights"/>, each chosen in proportion to its weight.</summary>
    /// <exception cref="ArgumentException">The weights do not sum to a positive number.</exception>
    public int Weighted(ReadOnlySpan<int> weights)
    {
        int total = 0;
        foreach (int w in weights) total += w;
        if (total <= 0) throw new ArgumentException("the weights must sum to more than 0", nameof(weights));
        int pick = Below(total);
        for (int i = 0; i < weights.Length; i++)
        {
            if (pick < weights[i]) return i;
            pick -= weights[i];
        }
        return weights.Length - 1;
    }

    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    public void Fill(Span<byte> destination)
    {
        int i = 0;
        for (; i + 8 <= destination.Length; i += 8)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination[i..], NextUInt64());
        if (i < destination.Length)
        {
            ulong last = NextUInt64();
            for (; i < destination.Length; i++, last >>= 8) destination[i] = (byte)last;
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
