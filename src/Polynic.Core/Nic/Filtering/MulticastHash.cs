namespace Polynic.Core.Nic.Filtering;

/// <summary>Which imperfect (hash) filter a <see cref="ReceiveFilter"/> applies to group addresses.</summary>
public enum MulticastHashKind
{
    /// <summary>No hash filter: group addresses pass only through the exact table or all-multicast (virtio-net's MAC table).</summary>
    None,

    /// <summary>
    /// Intel 8254x: 12 bits of the destination address chosen by the filter offset (RCTL.MO,
    /// 82540 manual 13.4.22, and MTA at 0x05200); see <see cref="MulticastHash.Intel"/>.
    /// </summary>
    Intel,

    /// <summary>
    /// The top 6 bits of the big-endian Ethernet CRC-32 of the address, as RTL8139 (MAR0-7) and the
    /// DP8390/NE2000 (MAR0-7) use it; see <see cref="MulticastHash.EthernetCrcTop6"/>.
    /// </summary>
    EthernetCrcTop6,
}

/// <summary>The standard multicast hash functions. Pure, allocation-free.</summary>
public static class MulticastHash
{
    /// <summary>
    /// Intel 8254x multicast table index (0..4095) for filter offset <paramref name="filterOffset"/>
    /// (RCTL.MO, 0..3; other values use their low two bits). Offsets 0..3 take destination address
    /// bits [47:36], [46:35], [45:34] and [43:32], counting the address as the little-endian value of
    /// its 6 bytes, i.e. bits from bytes 4 and 5 (8254x manual, MTA at 0x05200; Linux e1000_hash_mc_addr). The table bit is MTA[index / 32]
    /// bit index % 32.
    /// </summary>
    public static int Intel(MacAddress address, int filterOffset)
    {
        // Bytes 4 and 5 as a little-endian 16-bit value = address bits [47:32].
        int top = address[4] | address[5] << 8;
        int shift = (filterOffset & 3) switch { 0 => 4, 1 => 3, 2 => 2, _ => 0 };
        return (top >> shift) & 0xFFF;
    }

    /// <summary>
    /// The Ethernet CRC-32 (polynomial 0x04C11DB7, initial value all ones, bits of each byte taken
    /// least significant first, no final inversion) of the 6 address bytes, in the bit order of
    /// Linux's <c>ether_crc</c> (the "big-endian" CRC).
    /// </summary>
    public static uint EthernetCrc(MacAddress address)
    {
        uint crc = uint.MaxValue;
        for (int i = 0; i < MacAddress.Length; i++)
        {
            uint octet = address[i];
            for (int bit = 0; bit < 8; bit++, octet >>= 1)
            {
                bool feedback = ((crc >> 31) ^ (octet & 1)) != 0;
                crc <<= 1;
                if (feedback) crc ^= 0x04C1_1DB7;
            }
        }
        return crc;
    }

    /// <summary>
    /// RTL8139 / NE2000 multicast table index (0..63): the top 6 bits of <see cref="EthernetCrc"/>.
    /// The table bit is MAR[index / 8] bit index % 8, i.e. bit index of the 64-bit little-endian MAR0-7
    /// (RTL8139 datasheet, MAR0-7; DP8390 datasheet, multicast address registers).
    /// </summary>
    public static int EthernetCrcTop6(MacAddress address) => (int)(EthernetCrc(address) >> 26);
}
