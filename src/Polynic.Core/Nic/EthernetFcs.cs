namespace Polynic.Core.Nic;

/// <summary>
/// The Ethernet frame check sequence (IEEE 802.3 clause 3.2.9: CRC-32, polynomial 0x04C11DB7,
/// reflected, initial value and final complement all ones), for personalities whose receive
/// format hands the FCS to the driver (RTL8139 ring buffer and C+ descriptors, NE2000).
/// </summary>
/// <remarks>Table driven; pure and allocation-free.</remarks>
public static class EthernetFcs
{
    /// <summary>Length of the FCS field in bytes.</summary>
    public const int Length = 4;

    private static readonly uint[] Table = BuildTable();

    /// <summary>The FCS of <paramref name="frame"/> (destination MAC first, no FCS), as the 32-bit value whose little-endian bytes follow the frame on the wire.</summary>
    public static uint Compute(ReadOnlySpan<byte> frame)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in frame) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    /// <summary>Writes the FCS of <paramref name="frame"/> little-endian into the first four bytes of <paramref name="destination"/>; false if it is shorter.</summary>
    public static bool TryWrite(ReadOnlySpan<byte> frame, Span<byte> destination) =>
        System.Buffers.Binary.BinaryPrimitives.TryWriteUInt32LittleEndian(destination, Compute(frame));

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
