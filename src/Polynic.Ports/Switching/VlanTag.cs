using System.Buffers.Binary;

namespace Polynic.Ports.Switching;

/// <summary>
/// The IEEE 802.1Q tag as a switch reads and writes it: TPID 0x8100 after the two MAC addresses,
/// then the TCI (3 bits priority, 1 bit DEI, 12 bits VLAN identifier; IEEE 802.1Q-2018, 9.6).
/// </summary>
public static class VlanTag
{
    /// <summary>The tag protocol identifier of a customer VLAN tag.</summary>
    public const ushort Tpid = 0x8100;

    /// <summary>Bytes a tag adds to a frame.</summary>
    public const int Length = 4;

    /// <summary>Lowest VLAN identifier a port can be a member of (0 means priority-tagged only).</summary>
    public const ushort MinVlan = 1;

    /// <summary>Highest VLAN identifier a port can be a member of (4095 is reserved).</summary>
    public const ushort MaxVlan = 4094;

    internal const int AddressesLength = 12;
    internal const int EthernetHeaderLength = 14;

    /// <summary>Whether <paramref name="vlan"/> can be configured on a port (1..4094).</summary>
    public static bool IsValidVlan(int vlan) => vlan is >= MinVlan and <= MaxVlan;

    /// <summary>Whether the frame carries an 802.1Q tag (the caller checked it has 14 bytes).</summary>
    internal static bool IsTagged(ReadOnlySpan<byte> frame) =>
        BinaryPrimitives.ReadUInt16BigEndian(frame[AddressesLength..]) == Tpid;

    /// <summary>The TCI of a tagged frame of at least 18 bytes.</summary>
    internal static ushort ReadTci(ReadOnlySpan<byte> frame) =>
        BinaryPrimitives.ReadUInt16BigEndian(frame[(AddressesLength + 2)..]);

    /// <summary>Writes TPID and TCI at <paramref name="destination"/>.</summary>
    internal static void Write(Span<byte> destination, ushort tci)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Tpid);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], tci);
    }
}
