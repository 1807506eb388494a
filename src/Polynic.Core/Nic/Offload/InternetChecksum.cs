using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>
/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
/// big-endian words. An accumulator that may be fed in pieces of any length (an odd piece leaves
/// its last byte as the high half of the next word), so headers and payload can be summed where
/// they lie without copying.
/// </summary>
public struct InternetChecksum
{
    private ulong _sum;
    private bool _odd;

    /// <summary>Starts from an unfolded partial sum (e.g. a pseudo-header sum from <see cref="PseudoHeader"/>).</summary>
    public InternetChecksum(uint initialSum) => _sum = initialSum;

    /// <summary>Adds <paramref name="data"/> as a continuation of everything added so far.</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (_odd)
        {
            _sum += data[0];
            data = data[1..];
            _odd = false;
        }
        ulong sum = _sum;
        // 4 bytes at a time into a 64-bit accumulator: carries are folded once at the end (RFC 1071, 2(B) and 4.1).
        while (data.Length >= 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data[4..];
        }
        if (data.Length >= 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data);
            data = data[2..];
        }
        if (data.Length == 1)
        {
            sum += (uint)data[0] << 8;
            _odd = true;
        }
        _sum = sum;
    }

    /// <summary>Adds one 16-bit word (must be at an even position of the summed data).</summary>
    public void AddWord(ushort word) => _sum += word;

    /// <summary>Adds an unfolded partial sum.</summary>
    public void AddSum(uint partialSum) => _sum += partialSum;

    /// <summary>The ones' complement sum folded to 16 bits (not complemented).</summary>
    public readonly ushort FoldedSum => Fold(_sum);

    /// <summary>The checksum: the complement of <see cref="FoldedSum"/>.</summary>
    public readonly ushort Finish() => (ushort)~Fold(_sum);

    /// <summary>
    /// The checksum with 0 sent as 0xFFFF, its other ones' complement form: required for UDP
    /// (RFC 768, where 0 means "no checksum") and what devices and Linux skb_checksum_help write
    /// when they do not know the protocol.
    /// </summary>
    public readonly ushort FinishNonZero()
    {
        ushort c = Finish();
        return c == 0 ? (ushort)0xFFFF : c;
    }

    /// <summary>Checksum of <paramref name="data"/>.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        var c = new InternetChecksum();
        c.Add(data);
        return c.Finish();
    }

    /// <summary>Whether <paramref name="data"/>, checksum field included, sums to 0xFFFF (RFC 1071, 1: verification).</summary>
    public static bool Verify(ReadOnlySpan<byte> data, uint initialSum = 0)
    {
        var c = new InternetChecksum(initialSum);
        c.Add(data);
        return c.FoldedSum == 0xFFFF;
    }

    /// <summary>Folds carries into 16 bits (end-around carry).</summary>
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>
    /// Incremental update when one 16-bit word of the summed data changes from
    /// <paramref name="oldWord"/> to <paramref name="newWord"/> (RFC 1624, equation 3: HC' = ~(~HC + ~m + m')).
    /// </summary>
    public static ushort Update(ushort checksum, ushort oldWord, ushort newWord) =>
        (ushort)~Fold((uint)(ushort)~checksum + (ushort)~oldWord + newWord);
}

/// <summary>Sums of the pseudo-headers TCP and UDP checksums cover.</summary>
public static class PseudoHeader
{
    /// <summary>
    /// Unfolded sum of the IPv4 pseudo-header (RFC 793 3.1, RFC 768): source and destination
    /// addresses (4 bytes each), zero, protocol, and the TCP/UDP length.
    /// </summary>
    /// <exception cref="ArgumentException">Addresses not 4 bytes each (a caller's bug).</exception>
    public static uint IPv4(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, ushort length)
    {
        if (source.Length != 4 || destination.Length != 4) throw new ArgumentException("IPv4 addresses are 4 bytes.");
        var c = new InternetChecksum();
        c.Add(source);
        c.Add(destination);
        return (uint)c.FoldedSum + protocol + length;
    }

    /// <summary>
    /// Unfolded sum of the IPv6 pseudo-header (RFC 8200, 8.1): source and destination addresses
    /// (16 bytes each), upper-layer packet length (32 bits) and next header.
    /// </summary>
    /// <exception cref="ArgumentException">Addresses not 16 bytes each (a caller's bug).</exception>
    public static uint IPv6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte nextHeader, uint length)
    {
        if (source.Length != 16 || destination.Length != 16) throw new ArgumentException("IPv6 addresses are 16 bytes.");
        var c = new InternetChecksum();
        c.Add(source);
        c.Add(destination);
        return c.FoldedSum + (length >> 16) + (length & 0xFFFF) + nextHeader;
    }
}
