using System.Buffers.Binary;

namespace Polynic.Cli.Demo;

/// <summary>
/// The demo's own copy of the diagnostic function's register map and DMA pattern, as a guest
/// driver would have it: from the device's documentation (README, "The diagnostic function"),
/// not from the personality's code, which the server and its CLI never reference — the device
/// comes from the diagnostic module at run time.
/// </summary>
internal static class DiagnosticSpec
{
    public const ushort VendorId = 0x1234, DeviceId = 0x7A01;
    public const uint ClassCode = 0xFF0000;
    public const uint MagicValue = 0x594C_4F50; // "POLY"

    // BAR0 register offsets.
    public const int Magic = 0x00, InterruptRaise = 0x10, InterruptAcknowledge = 0x14;
    public const int DmaAddressLow = 0x20, DmaAddressHigh = 0x24, DmaLength = 0x28, DmaSeed = 0x2C, DmaCommand = 0x30;
    public const uint DmaCommandWritePattern = 1;

    /// <summary>The pattern a write-pattern DMA produces: xorshift32 from seed ^ 0x9E3779B9 (1 if that is 0), four little-endian bytes per step.</summary>
    public static byte[] Pattern(uint seed, int length)
    {
        var bytes = new byte[length];
        uint state = seed ^ 0x9E37_79B9u;
        if (state == 0) state = 1;
        Span<byte> word = stackalloc byte[4];
        for (int i = 0; i < length; i += 4)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            BinaryPrimitives.WriteUInt32LittleEndian(word, state);
            word[..Math.Min(4, length - i)].CopyTo(bytes.AsSpan(i));
        }
        return bytes;
    }
}
