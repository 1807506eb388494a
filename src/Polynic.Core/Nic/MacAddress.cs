using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Polynic.Core.Nic;

/// <summary>
/// An IEEE 802 48-bit MAC address, held in transmission order (the first byte on the wire is
/// the most significant byte of <see cref="ToUInt64"/>). A value type of its own so that MAC
/// addresses are never confused with other 6-byte fields; reading one from a frame does not allocate.
/// </summary>
public readonly struct MacAddress : IEquatable<MacAddress>, ISpanFormattable
{
    /// <summary>Length of an address in bytes.</summary>
    public const int Length = 6;

    // Bits 47..0 = bytes 0..5; the upper 16 bits are always zero.
    private readonly ulong _value;

    private MacAddress(ulong value) => _value = value & 0xFFFF_FFFF_FFFFUL;

    /// <summary>Reads an address from the first 6 bytes of <paramref name="bytes"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than 6 bytes (a caller's bug; use <see cref="TryRead"/> on guest data).</exception>
    public MacAddress(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length) throw new ArgumentException("A MAC address needs 6 bytes.", nameof(bytes));
        _value = Pack(bytes);
    }

    /// <summary>ff:ff:ff:ff:ff:ff, the broadcast address (IEEE 802.3, 3.2.3).</summary>
    public static MacAddress Broadcast => new(0xFFFF_FFFF_FFFFUL);

    /// <summary>00:00:00:00:00:00.</summary>
    public static MacAddress Zero => default;

    /// <summary>Builds an address from the low 48 bits of <paramref name="value"/> (byte 0 in bits 47..40).</summary>
    public static MacAddress FromUInt64(ulong value) => new(value);

    /// <summary>
    /// Reads an address from the first 6 bytes of <paramref name="bytes"/>, e.g. the destination
    /// of a frame. Returns false (and <see cref="Zero"/>) when fewer than 6 bytes are given.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out MacAddress address)
    {
        if (bytes.Length < Length) { address = default; return false; }
        address = new MacAddress(Pack(bytes));
        return true;
    }

    /// <summary>
    /// Builds an address from the two little-endian dwords Intel NICs keep it in (e1000 RAL/RAH,
    /// 8254x manual, RAL/RAH at 0x05400: byte 0 in RAL bits 7..0, byte 5 in RAH bits 15..8).
    /// </summary>
    public static MacAddress FromLowHigh(uint low, uint high)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, low);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], high);
        return new MacAddress(Pack(b));
    }

    /// <summary>The address as the little-endian (low, high) dword pair of <see cref="FromLowHigh"/>; high holds bytes 4 and 5 only.</summary>
    public (uint Low, uint High) ToLowHigh()
    {
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        CopyTo(b);
        return (BinaryPrimitives.ReadUInt32LittleEndian(b), BinaryPrimitives.ReadUInt32LittleEndian(b[4..]));
    }

    /// <summary>Byte <paramref name="index"/> (0..5) in transmission order.</summary>
    public byte this[int index] => (uint)index < Length
        ? (byte)(_value >> (8 * (Length - 1 - index)))
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The 48 address bits, byte 0 in bits 47..40.</summary>
    public ulong ToUInt64() => _value;

    /// <summary>Group (multicast) address: the I/G bit, bit 0 of the first byte (IEEE 802-2014, 8.2). Broadcast is a group address too.</summary>
    public bool IsMulticast => (_value & 0x0100_0000_0000UL) != 0;

    /// <summary>All ones: the broadcast address.</summary>
    public bool IsBroadcast => _value == 0xFFFF_FFFF_FFFFUL;

    /// <summary>Individual (unicast) address: the I/G bit is clear.</summary>
    public bool IsUnicast => !IsMulticast;

    /// <summary>Locally administered: the U/L bit, bit 1 of the first byte (QEMU's 52:54:00 prefix has it set).</summary>
    public bool IsLocallyAdministered => (_value & 0x0200_0000_0000UL) != 0;

    /// <summary>Writes the 6 bytes to the start of <paramref name="destination"/>; false if it is shorter than 6 bytes.</summary>
    public bool TryCopyTo(Span<byte> destination)
    {
        if (destination.Length < Length) return false;
        for (int i = 0; i < Length; i++) destination[i] = (byte)(_value >> (8 * (Length - 1 - i)));
        return true;
    }

    /// <summary>Writes the 6 bytes to the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">Shorter than 6 bytes.</exception>
    public void CopyTo(Span<byte> destination)
    {
        if (!TryCopyTo(destination)) throw new ArgumentException("Destination shorter than 6 bytes.", nameof(destination));
    }

    /// <summary>
    /// Parses six hexadecimal byte pairs separated by ':' or '-' (one separator throughout), e.g.
    /// "52:54:00:12:34:56". Case-insensitive. Returns false for anything else.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress address)
    {
        address = default;
        if (text.Length != 17) return false;
        char separator = text[2];
        if (separator != ':' && separator != '-') return false;
        ulong value = 0;
        for (int i = 0; i < Length; i++)
        {
            int p = i * 3;
            if (i > 0 && text[p - 1] != separator) return false;
            int hi = HexValue(text[p]), lo = HexValue(text[p + 1]);
            if (hi < 0 || lo < 0) return false;
            value = (value << 8) | (uint)(hi << 4 | lo);
        }
        address = new MacAddress(value);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/>.</summary>
    /// <exception cref="FormatException">Not a MAC address.</exception>
    public static MacAddress Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var a) ? a : throw new FormatException($"'{text}' is not a MAC address (expected e.g. 52:54:00:12:34:56).");

    /// <summary>Lower-case, colon-separated: "52:54:00:12:34:56".</summary>
    public override string ToString() => string.Create(17, _value, static (chars, v) => Format(v, chars));

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <summary>Formats like <see cref="ToString()"/> into <paramref name="destination"/> without allocating.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format = default, IFormatProvider? provider = null)
    {
        if (destination.Length < 17) { charsWritten = 0; return false; }
        Format(_value, destination);
        charsWritten = 17;
        return true;
    }

    /// <inheritdoc/>
    public bool Equals(MacAddress other) => _value == other._value;

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is MacAddress m && Equals(m);

    /// <inheritdoc/>
    public override int GetHashCode() => _value.GetHashCode();

    /// <summary>Same 48 bits.</summary>
    public static bool operator ==(MacAddress left, MacAddress right) => left.Equals(right);

    /// <summary>Different bits.</summary>
    public static bool operator !=(MacAddress left, MacAddress right) => !left.Equals(right);

    private static ulong Pack(ReadOnlySpan<byte> b) =>
        (ulong)b[0] << 40 | (ulong)b[1] << 32 | (ulong)b[2] << 24 | (ulong)b[3] << 16 | (ulong)b[4] << 8 | b[5];

    private static void Format(ulong value, Span<char> chars)
    {
        const string digits = "0123456789abcdef";
        for (int i = 0; i < Length; i++)
        {
            byte b = (byte)(value >> (8 * (Length - 1 - i)));
            int p = i * 3;
            chars[p] = digits[b >> 4];
            chars[p + 1] = digits[b & 0xF];
            if (i < Length - 1) chars[p + 2] = ':';
        }
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
