namespace Polynic.Ports.Switching;

/// <summary>
/// A set of VLAN identifiers 1..4094 as a 4096-bit map, so that "is this port a member of VLAN n"
/// on the forwarding path is one load and a mask.
/// </summary>
internal sealed class VlanSet
{
    private readonly ulong[] _bits = new ulong[4096 / 64];

    public VlanSet(IEnumerable<ushort> vlans)
    {
        foreach (ushort vlan in vlans)
        {
            if (!VlanTag.IsValidVlan(vlan))
                throw new ArgumentOutOfRangeException(nameof(vlans), vlan, "VLAN identifiers are 1..4094.");
            _bits[vlan >> 6] |= 1UL << (vlan & 63);
        }
    }

    public bool Contains(int vlan) => (_bits[(vlan >> 6) & 63] & (1UL << (vlan & 63))) != 0;

    public static VlanSet All() => new(Enumerable.Range(VlanTag.MinVlan, VlanTag.MaxVlan).Select(v => (ushort)v));
}
