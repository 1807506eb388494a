using System.Buffers.Binary;

namespace Polynic.Core.Nic.Rss;

/// <summary>
/// The Toeplitz hash receive-side scaling uses (Microsoft "RSS hashing", the function Intel, virtio
/// and others implement): for every set bit of the input, the 32 key bits starting at that bit's
/// position are XORed into the result. Allocation-free; the work is bounded by the input length.
/// </summary>
public static class ToeplitzHash
{
    /// <summary>Longest input the RSS tuples need: two IPv6 addresses and two ports.</summary>
    public const int MaxInputLength = 36;

    /// <summary>
    /// The hash of <paramref name="input"/> under <paramref name="key"/> (key byte 0 is the most
    /// significant). Key bits beyond the key's end count as 0, so a short key gives a defined result.
    /// </summary>
    public static uint Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        uint result = 0;
        uint window = key.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(key) : 0;
        int next = 32;   // index of the key bit that shifts into the window next
        foreach (byte b in input)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                if ((b >> bit & 1) != 0) result ^= window;
                uint incoming = next >> 3 < key.Length ? (uint)(key[next >> 3] >> (7 - (next & 7))) & 1 : 0;
                window = window << 1 | incoming;
                next++;
            }
        }
        return result;
    }
}
