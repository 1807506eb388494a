using Polynic.Core.Nic;

namespace Polynic.Fuzzing.Devices;

/// <summary>The frames the sanity drivers send and inject: recognisable, and accepted by every receive filter after a reset.</summary>
internal static class KnownFrames
{
    /// <summary>IEEE 802 local experimental EtherType: no stack or checksum logic takes an interest.</summary>
    private const ushort EtherType = 0x88B5;

    /// <summary>A 98-byte frame from the NIC to a peer.</summary>
    public static byte[] Outbound { get; } = Build(MacAddress.FromUInt64(0x02_00_00_00_00_02), FuzzedDevice.Mac, 98, 0x11);

    /// <summary>A 98-byte broadcast frame from the peer (every personality's filter accepts broadcast once its driver asked for it).</summary>
    public static byte[] Inbound { get; } = Build(MacAddress.Broadcast, MacAddress.FromUInt64(0x02_00_00_00_00_02), 98, 0x77);

    private static byte[] Build(MacAddress destination, MacAddress source, int length, byte seed)
    {
        var frame = new byte[length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        frame[12] = EtherType >> 8;
        frame[13] = EtherType & 0xFF;
        for (int i = 14; i < length; i++) frame[i] = (byte)(seed + i);
        return frame;
    }

    /// <summary>Null if <paramref name="actual"/> starts with <paramref name="expected"/> (receivers may pad), else what differs.</summary>
    public static string? Compare(string what, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        if (actual.Length < expected.Length) return $"{what}: {actual.Length} bytes instead of {expected.Length}";
        int at = expected.CommonPrefixLength(actual);
        return at >= expected.Length ? null : $"{what}: byte {at} is 0x{actual[at]:x2}, not 0x{expected[at]:x2}";
    }
}
