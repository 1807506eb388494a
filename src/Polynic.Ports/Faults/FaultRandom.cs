namespace Polynic.Ports.Faults;

/// <summary>
/// xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators"): a
/// small allocation-free generator whose whole state is one number, so a seed reproduces a
/// run exactly. The seed goes through splitmix64 first, so nearby seeds give unrelated streams
/// and seed 0 is valid.
/// </summary>
internal struct FaultRandom
{
    private ulong _state;

    public FaultRandom(ulong seed)
    {
        ulong z = seed + 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        z ^= z >> 31;
        _state = z == 0 ? 0x9E3779B97F4A7C15 : z;
    }

    public ulong NextUInt64()
    {
        ulong x = _state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _state = x;
        return x * 0x2545F4914F6CDD1D;
    }

    /// <summary>Uniform in [0, 1), from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="bound"/>), by multiply-shift on the top 32 bits.</summary>
    public int Next(int bound) => (int)(((NextUInt64() >> 32) * (ulong)(uint)bound) >> 32);

    /// <summary>Uniform in [-<paramref name="bound"/>, +<paramref name="bound"/>].</summary>
    public long NextSigned(long bound) => bound <= 0 ? 0 : (long)(NextUInt64() % (ulong)(2 * bound + 1)) - bound;
}
