using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The statistics registers at 0x04000-0x040FF (8254x SDM 13.7): 32-bit counters that clear when
/// read and stick at their maximum, and four 64-bit octet counters read low dword then high
/// dword, both cleared by the high read (QEMU mac_read_clr8; Linux e1000_update_stats reads them in
/// that order). The values live in the register file; this class only counts into it.
/// </summary>
internal sealed class Statistics
{
#pragma warning disable CS1591
    public const uint Crcerrs = 0x4000, Mpc = 0x4010, Colc = 0x4028, Rlec = 0x4040;
    public const uint Prc64 = 0x405C, Prc127 = 0x4060, Prc255 = 0x4064, Prc511 = 0x4068, Prc1023 = 0x406C, Prc1522 = 0x4070;
    public const uint Gprc = 0x4074, Bprc = 0x4078, Mprc = 0x407C, Gptc = 0x4080;
    public const uint Gorcl = 0x4088, Gorch = 0x408C, Gotcl = 0x4090, Gotch = 0x4094;
    public const uint Rnbc = 0x40A0, Ruc = 0x40A4, Rfc = 0x40A8, Roc = 0x40AC, Rjc = 0x40B0;
    public const uint Torl = 0x40C0, Torh = 0x40C4, Totl = 0x40C8, Toth = 0x40CC;
    public const uint Tpr = 0x40D0, Tpt = 0x40D4;
    public const uint Ptc64 = 0x40D8, Ptc127 = 0x40DC, Ptc255 = 0x40E0, Ptc511 = 0x40E4, Ptc1023 = 0x40E8, Ptc1522 = 0x40EC;
    public const uint Mptc = 0x40F0, Bptc = 0x40F4, Tsctc = 0x40F8, Tsctfc = 0x40FC;
#pragma warning restore CS1591

    /// <summary>Bytes of frame check sequence the MAC counts in every octet and size statistic.</summary>
    public const int FcsLength = 4;

    private readonly RegisterFile _registers;

    public Statistics(RegisterFile registers) => _registers = registers;

    /// <summary>Declares every dword of the statistics block: read-to-clear, writes ignored, 64-bit pairs cleared by the high read.</summary>
    public static void Declare(RegisterFile registers)
    {
        RegisterReadHook clearPair = static (file, in read) =>
        {
            // High dword read: the low dword (declared 4 bytes below) clears with it.
            file.Set(read.Offset - 4, 0);
            return read.Value;
        };
        for (uint offset = E1000Registers.StatisticsFirst; offset <= E1000Registers.StatisticsLast; offset += 4)
        {
            bool low = offset is Gorcl or Gotcl or Torl or Totl;
            bool high = offset is Gorch or Gotch or Torh or Toth;
            registers.Declare(new RegisterSpec(offset, $"STAT{offset:X4}")
            {
                Access = low ? RegisterAccess.ReadOnly : RegisterAccess.ReadToClear,
                WriteMask = 0,
                OnRead = high ? clearPair : null,
            });
        }
    }

    /// <summary>Adds one to a 32-bit counter, sticking at 0xFFFFFFFF.</summary>
    public void Increment(uint offset)
    {
        uint v = _registers.Get(offset);
        if (v != uint.MaxValue) _registers.Set(offset, v + 1);
    }

    /// <summary>Adds <paramref name="amount"/> to the 64-bit counter whose low dword is at <paramref name="lowOffset"/>, sticking at the maximum.</summary>
    public void Add64(uint lowOffset, ulong amount)
    {
        // Without a carry out of the low dword only the low dword changes (and cannot stick).
        uint low = _registers.Get(lowOffset);
        if (amount <= uint.MaxValue - low)
        {
            _registers.Set(lowOffset, low + (uint)amount);
            return;
        }
        ulong v = low | (ulong)_registers.Get(lowOffset + 4) << 32;
        ulong sum = v + amount;
        if (sum < v) sum = ulong.MaxValue;
        _registers.Set(lowOffset, (uint)sum);
        _registers.Set(lowOffset + 4, (uint)(sum >> 32));
    }

    /// <summary>Reads a 64-bit counter without clearing it (tests, management).</summary>
    public ulong Peek64(uint lowOffset) => _registers.Get(lowOffset) | (ulong)_registers.Get(lowOffset + 4) << 32;

    /// <summary>A frame reached the MAC from the wire (or from loopback), whatever happens to it next: TPR, TOR.</summary>
    public void CountArrived(int lengthWithFcs)
    {
        Increment(Tpr);
        Add64(Torl, (ulong)lengthWithFcs);
    }

    /// <summary>A frame was delivered to the guest: GPRC, GORC, BPRC/MPRC and the size bin.</summary>
    public void CountDelivered(ReadOnlySpan<byte> destination, int lengthWithFcs)
    {
        Increment(Gprc);
        Add64(Gorcl, (ulong)lengthWithFcs);
        CountGroup(destination, Bprc, Mprc);
        Increment(SizeBin(Prc64, lengthWithFcs));
    }

    /// <summary>A frame was transmitted: GPTC, GOTC, TPT, TOT, BPTC/MPTC and the size bin.</summary>
    public void CountTransmitted(ReadOnlySpan<byte> destination, int lengthWithFcs)
    {
        Increment(Gptc);
        Increment(Tpt);
        Add64(Gotcl, (ulong)lengthWithFcs);
        Add64(Totl, (ulong)lengthWithFcs);
        CountGroup(destination, Bptc, Mptc);
        Increment(SizeBin(Ptc64, lengthWithFcs));
    }

    private void CountGroup(ReadOnlySpan<byte> destination, uint broadcast, uint multicast)
    {
        if (destination.Length < MacAddress.Length || (destination[0] & 1) == 0) return;
        bool all = destination[..MacAddress.Length].IndexOfAnyExcept((byte)0xFF) < 0;
        Increment(all ? broadcast : multicast);
    }

    // 64, 65-127, 128-255, 256-511, 512-1023, 1024 and up (jumbo frames land in the last bin, as QEMU counts them).
    private static uint SizeBin(uint first, int length) => length switch
    {
        <= 64 => first,
        <= 127 => first + 4,
        <= 255 => first + 8,
        <= 511 => first + 12,
        <= 1023 => first + 16,
        _ => first + 20,
    };
}
