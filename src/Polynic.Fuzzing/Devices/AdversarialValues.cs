namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The values a hostile guest likes: pointers aimed at rings, at the end of RAM and past it, near
/// 2^32 and 2^64; lengths at and around every limit; single bits and all ones. Remembers addresses
/// the fuzzer wrote into registers (likely ring bases) so later RAM writes land where the device reads.
/// </summary>
internal sealed class AdversarialValues(FuzzRandom random, int ramSize)
{
    private readonly ulong[] _remembered = new ulong[16];
    private int _rememberedCount, _next;

    private static readonly ulong[] Lengths =
        [0, 1, 2, 3, 4, 7, 8, 12, 14, 15, 16, 42, 59, 60, 64, 127, 128, 255, 256, 1500, 1514, 1518, 1522, 2047, 2048,
         4095, 4096, 8191, 8192, 0x3FFF, 0x4000, 0xFFFF, 0x1_0000, 0x1_0001, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF];

    private static readonly ulong[] FarAddresses =
        [0xFFFF_F000, 0xFFFF_FFF0, 0xFFFF_FFFC, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0010, 0x8000_0000_0000_0000,
         0xFFFF_FFFF_FFFF_F000, 0xFFFF_FFFF_FFFF_FFF0, 0xFFFF_FFFF_FFFF_FFFF];

    public FuzzRandom Random { get; } = random;

    public ulong RamEnd { get; } = (ulong)ramSize;

    /// <summary>Notes a value written to a register that could be a ring or buffer address in RAM.</summary>
    public void Remember(ulong value)
    {
        if (value == 0 || value >= RamEnd) return;
        _remembered[_next] = value;
        _next = (_next + 1) % _remembered.Length;
        _rememberedCount = Math.Min(_rememberedCount + 1, _remembered.Length);
    }

    /// <summary>A guest-physical address for a register or a descriptor field.</summary>
    public ulong Pointer()
    {
        var r = Random;
        switch (r.Below(10))
        {
            case 0 or 1 when _rememberedCount > 0:
                return _remembered[r.Below(_rememberedCount)] + (ulong)r.Below(4) * 16;
            case 2 or 3:
                return r.Pick<ulong>(SanityLayout.Areas) + (ulong)r.Below(16) * 16;
            case 4:
                return RamEnd - (ulong)r.Pick<int>([1, 2, 4, 8, 12, 16, 64, 2048, 4096]);
            case 5:
                return RamEnd + (ulong)r.Pick<int>([0, 0, 1, 16, 4096]);
            case 6:
                return r.Pick<ulong>(FarAddresses) - (ulong)r.Below(4);
            case 7:
                return 0;
            default:
                ulong at = r.Below(RamEnd);
                return r.Coin() ? at & ~15UL : at;
        }
    }

    /// <summary>A length or count: a limit, one either side of it, or anything.</summary>
    public ulong Length() => Random.Below(5) switch
    {
        0 => Random.NextUInt32(),
        1 => (ulong)Random.Below(4096),
        _ => Random.Pick<ulong>(Lengths),
    };

    /// <summary>A register value of <paramref name="width"/> bytes.</summary>
    public ulong Value(int width)
    {
        var r = Random;
        ulong v = r.Below(12) switch
        {
            0 or 1 => r.NextUInt64(),
            2 or 3 => Pointer(),
            4 or 5 => Length(),
            6 => 0,
            7 => ulong.MaxValue,
            8 => 1UL << r.Below(8 * width),
            9 => (ulong)r.Below(17),
            10 => (ulong)r.Below(SanityLayout.Entries * 16) & ~15UL,
            _ => ulong.MaxValue ^ (1UL << r.Below(8 * width)),
        };
        return width >= 8 ? v : v & ((1UL << (8 * width)) - 1);
    }

    /// <summary>An address in RAM with room for <paramref name="length"/> bytes, where the device likely looks.</summary>
    public ulong Target(int length)
    {
        var r = Random;
        ulong at = r.Below(10) switch
        {
            < 4 when _rememberedCount > 0 => _remembered[r.Below(_rememberedCount)],
            < 7 => r.Pick<ulong>(SanityLayout.Areas) + (ulong)r.Below(SanityLayout.Entries) * 16,
            7 => RamEnd - (ulong)Math.Min(length, (int)RamEnd),
            _ => r.Below(RamEnd),
        };
        return Math.Min(at, RamEnd - (ulong)Math.Min(length, (int)RamEnd));
    }
}
