using System.Buffers.Binary;

namespace Polynic.Personalities.Diagnostic;

/// <summary>
/// The byte stream the diagnostic function writes: xorshift32, four bytes per step, so every
/// byte depends on the seed and its position and a misplaced or torn DMA shows up.
/// </summary>
public struct DiagnosticPattern
{
    private uint _state;

    /// <summary>Starts the stream for <paramref name="seed"/>.</summary>
    public DiagnosticPattern(uint seed)
    {
        // A zero state would stay zero forever; fold the seed so every seed yields a stream.
        _state = seed ^ 0x9E37_79B9u;
        if (_state == 0) _state = 1;
    }

    /// <summary>Writes the next bytes of the stream; a length that is not a multiple of 4 ends the stream.</summary>
    public void Fill(Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[4];
        for (int i = 0; i < destination.Length; i += 4)
        {
            uint x = _state;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            _state = x;
            BinaryPrimitives.WriteUInt32LittleEndian(word, x);
            word[..Math.Min(4, destination.Length - i)].CopyTo(destination[i..]);
        }
    }

    /// <summary>The first <paramref name="length"/> bytes of the stream for <paramref name="seed"/>, for tests.</summary>
    public static byte[] Create(uint seed, int length)
    {
        var bytes = new byte[length];
        new DiagnosticPattern(seed).Fill(bytes);
        return bytes;
    }
}
