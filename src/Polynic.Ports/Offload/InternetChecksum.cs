using System.Buffers.Binary;

namespace Polynic.Ports.Offload;

/// <summary>The ones'-complement sum of RFC 1071, used by IPv4, TCP and UDP.</summary>
internal static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> as big-endian 16-bit words (an odd last byte is padded with zero).</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (ulong)data[i] << 8;
        return sum;
    }

    /// <summary>Folds the carries back in (RFC 1071 section 4.1) to a 16-bit sum, not yet complemented.</summary>
    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum to store: the complement of the folded sum.</summary>
    public static ushort Complete(ulong sum) => (ushort)~Fold(sum);
}
