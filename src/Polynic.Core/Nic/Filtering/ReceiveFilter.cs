using System.Buffers.Binary;

namespace Polynic.Core.Nic.Filtering;

/// <summary>
/// Destination address filtering of received frames, shared by all personalities: an exact
/// address table with valid bits (e1000 RAL/RAH, RTL8139/NE2000 IDR/PAR, virtio-net's MAC table),
/// a multicast hash table (e1000 MTA, RTL8139/NE2000 MAR), broadcast accept, promiscuous unicast,
/// all-multicast, and a VLAN filter table (e1000 VFTA, virtio-net's VLAN table).
/// </summary>
/// <remarks>
/// <para>Decision order (that of the 82540 manual 13.4.22 and QEMU's e1000x/rtl8139/virtio filters):</para>
/// <list type="number">
/// <item>Frames shorter than 14 bytes are rejected.</item>
/// <item>If the VLAN filter is on and the EtherType at offset 12 equals <see cref="VlanTpid"/>, the
/// VLAN ID (low 12 bits of the TCI) must be set in the VLAN table. With
/// <see cref="PromiscuousBypassesVlan"/> (virtio-net) a promiscuous filter skips this step.</item>
/// <item>Unicast: exact table, then promiscuous.</item>
/// <item>Broadcast: accepted if <see cref="AcceptBroadcast"/>; otherwise, when
/// <see cref="BroadcastUsesGroupFilters"/> (e1000: "unless it matches through exact or imperfect
/// filters"), it continues as a group address, else it is rejected (RTL8139).</item>
/// <item>Group addresses: all-multicast, exact table, hash table.</item>
/// </list>
/// <para>
/// Configuration is changed from the register path while frames are filtered on a port thread;
/// every setting is a single word, so a frame racing a change sees either the old or new value.
/// </para>
/// </remarks>
public sealed class ReceiveFilter
{
    /// <summary>Number of VLAN IDs (IEEE 802.1Q: 12-bit VID).</summary>
    public const int VlanCount = 4096;

    private readonly ulong[] _exact;        // 48 address bits | valid flag in bit 63
    private readonly uint[] _hashTable;
    private readonly uint[] _vlanTable = new uint[VlanCount / 32];
    private int _exactLimit;                // one past the highest valid entry: bounds the search

    /// <summary>Creates a filter with <paramref name="exactEntries"/> exact entries and a hash table of <paramref name="hashBits"/> bits.</summary>
    /// <param name="exactEntries">Exact table size (e1000: 16, RTL8139/NE2000: 1, virtio-net: 64). 0..1024.</param>
    /// <param name="hashBits">Hash table size in bits, a power of two from 32 (e1000: 4096, RTL8139/NE2000: 64), or 0 for none.</param>
    /// <param name="hashKind">The hash function.</param>
    /// <exception cref="ArgumentOutOfRangeException">Sizes out of range.</exception>
    public ReceiveFilter(int exactEntries, int hashBits, MulticastHashKind hashKind)
    {
        if ((uint)exactEntries > 1024) throw new ArgumentOutOfRangeException(nameof(exactEntries));
        if (hashBits != 0 && (hashBits < 32 || hashBits > 1 << 16 || (hashBits & (hashBits - 1)) != 0))
            throw new ArgumentOutOfRangeException(nameof(hashBits), "A power of two from 32 to 65536, or 0.");
        _exact = new ulong[exactEntries];
        _hashTable = new uint[hashBits / 32];
        HashKind = hashBits == 0 ? MulticastHashKind.None : hashKind;
    }

    /// <summary>The hash function for group addresses.</summary>
    public MulticastHashKind HashKind { get; }

    /// <summary>Intel filter offset (RCTL.MO, 0..3) for <see cref="MulticastHashKind.Intel"/>.</summary>
    public int IntelFilterOffset { get; set; }

    /// <summary>Accept broadcast frames (e1000 RCTL.BAM, RTL8139 RCR.AB, NE2000 RCR.AB).</summary>
    public bool AcceptBroadcast { get; set; }

    /// <summary>Accept every unicast frame (e1000 RCTL.UPE, RTL8139 RCR.AAP, NE2000 RCR.PRO, virtio promisc).</summary>
    public bool PromiscuousUnicast { get; set; }

    /// <summary>Accept every group-addressed frame (e1000 RCTL.MPE, virtio allmulti).</summary>
    public bool AllMulticast { get; set; }

    /// <summary>Use the hash table for group addresses (RTL8139 RCR.AM, NE2000 RCR.AM; always true for e1000).</summary>
    public bool MulticastHashEnabled { get; set; } = true;

    /// <summary>Enforce the VLAN filter table on tagged frames (e1000 RCTL.VFE).</summary>
    public bool VlanFilterEnabled { get; set; }

    /// <summary>The TPID that marks a tagged frame (e1000 VET; 0x8100 by default, IEEE 802.1Q).</summary>
    public ushort VlanTpid { get; set; } = 0x8100;

    /// <summary>Broadcast with <see cref="AcceptBroadcast"/> off still passes through the group filters (e1000). False: rejected (RTL8139).</summary>
    public bool BroadcastUsesGroupFilters { get; set; } = true;

    /// <summary>Promiscuous unicast mode accepts everything, tagged or not, before any other rule (virtio-net).</summary>
    public bool PromiscuousBypassesVlan { get; set; }

    /// <summary>Number of exact table entries.</summary>
    public int ExactEntries => _exact.Length;

    /// <summary>The multicast hash table as 32-bit words: bit n is word n / 32, bit n % 32 (e1000 MTA; RTL8139 MAR0-3 is word 0).</summary>
    public Span<uint> HashTable => _hashTable;

    /// <summary>The VLAN filter table, 128 words: VID v is word v / 32, bit v % 32 (e1000 VFTA, 8254x manual, VFTA at 0x05600).</summary>
    public Span<uint> VlanTable => _vlanTable;

    /// <summary>Sets exact entry <paramref name="index"/>; false if there is no such entry.</summary>
    public bool SetExact(int index, MacAddress address, bool valid)
    {
        if ((uint)index >= (uint)_exact.Length) return false;
        _exact[index] = address.ToUInt64() | (valid ? 1UL << 63 : 0);
        int limit = 0;
        for (int i = 0; i < _exact.Length; i++) if ((long)_exact[i] < 0) limit = i + 1;
        _exactLimit = limit;
        return true;
    }

    /// <summary>Exact entry <paramref name="index"/> and whether it is valid; (zero, false) if there is no such entry.</summary>
    public (MacAddress Address, bool Valid) GetExact(int index) =>
        (uint)index < (uint)_exact.Length ? (MacAddress.FromUInt64(_exact[index]), (long)_exact[index] < 0) : (MacAddress.Zero, false);

    /// <summary>Sets hash table word <paramref name="index"/>; false if out of range.</summary>
    public bool SetHashWord(int index, uint value)
    {
        if ((uint)index >= (uint)_hashTable.Length) return false;
        _hashTable[index] = value;
        return true;
    }

    /// <summary>Sets VLAN table word <paramref name="index"/> (0..127); false if out of range.</summary>
    public bool SetVlanWord(int index, uint value)
    {
        if ((uint)index >= (uint)_vlanTable.Length) return false;
        _vlanTable[index] = value;
        return true;
    }

    /// <summary>Allows or blocks VLAN ID <paramref name="vlanId"/> (its low 12 bits).</summary>
    public void SetVlan(int vlanId, bool allowed)
    {
        int v = vlanId & (VlanCount - 1);
        if (allowed) _vlanTable[v >> 5] |= 1u << (v & 31);
        else _vlanTable[v >> 5] &= ~(1u << (v & 31));
    }

    /// <summary>The hash table index of <paramref name="address"/> under the current hash function and offset, or -1 without a hash table.</summary>
    public int HashIndex(MacAddress address)
    {
        int bits = _hashTable.Length * 32;
        return HashKind switch
        {
            MulticastHashKind.Intel => MulticastHash.Intel(address, IntelFilterOffset) & (bits - 1),
            MulticastHashKind.EthernetCrcTop6 => MulticastHash.EthernetCrcTop6(address) & (bits - 1),
            _ => -1,
        };
    }

    /// <summary>Sets the hash bit of <paramref name="address"/> (for a personality that programs the table itself, and tests).</summary>
    public void AddToHash(MacAddress address)
    {
        int i = HashIndex(address);
        if (i >= 0) _hashTable[i >> 5] |= 1u << (i & 31);
    }

    /// <summary>Clears every exact entry, the hash and VLAN tables, and all modes except the hash kind.</summary>
    public void Reset()
    {
        Array.Clear(_exact);
        Array.Clear(_hashTable);
        Array.Clear(_vlanTable);
        _exactLimit = 0;
        IntelFilterOffset = 0;
        AcceptBroadcast = PromiscuousUnicast = AllMulticast = VlanFilterEnabled = false;
        MulticastHashEnabled = true;
        VlanTpid = 0x8100;
    }

    /// <summary>Decides whether <paramref name="frame"/> (destination MAC first, no FCS) is for this NIC. Never throws.</summary>
    public ReceiveFilterResult Accept(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) return ReceiveFilterResult.RejectedTooShort;
        var destination = new MacAddress(frame);
        bool promiscuous = PromiscuousUnicast;

        if (promiscuous && PromiscuousBypassesVlan) return ReceiveFilterResult.AcceptedPromiscuous;

        if (VlanFilterEnabled && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == VlanTpid)
        {
            // A tag without its TCI is not a tagged frame we can check: treat as not allowed.
            if (frame.Length < 16) return ReceiveFilterResult.RejectedVlan;
            int vid = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]) & (VlanCount - 1);
            if ((_vlanTable[vid >> 5] & (1u << (vid & 31))) == 0) return ReceiveFilterResult.RejectedVlan;
        }

        if (destination.IsUnicast)
        {
            if (MatchesExact(destination)) return ReceiveFilterResult.AcceptedUnicast;
            return promiscuous ? ReceiveFilterResult.AcceptedPromiscuous : ReceiveFilterResult.RejectedUnicast;
        }

        if (destination.IsBroadcast)
        {
            if (AcceptBroadcast) return ReceiveFilterResult.AcceptedBroadcast;
            if (!BroadcastUsesGroupFilters) return ReceiveFilterResult.RejectedBroadcast;
        }

        if (AllMulticast) return ReceiveFilterResult.AcceptedAllMulticast;
        if (MatchesExact(destination)) return ReceiveFilterResult.AcceptedMulticastExact;
        if (MulticastHashEnabled)
        {
            int i = HashIndex(destination);
            if (i >= 0 && (_hashTable[i >> 5] & (1u << (i & 31))) != 0) return ReceiveFilterResult.AcceptedMulticastHash;
        }
        return destination.IsBroadcast ? ReceiveFilterResult.RejectedBroadcast : ReceiveFilterResult.RejectedMulticast;
    }

    private bool MatchesExact(MacAddress address)
    {
        ulong wanted = address.ToUInt64() | 1UL << 63;
        int limit = Math.Min(_exactLimit, _exact.Length);
        for (int i = 0; i < limit; i++) if (_exact[i] == wanted) return true;
        return false;
    }
}
