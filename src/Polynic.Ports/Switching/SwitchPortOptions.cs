namespace Polynic.Ports.Switching;

/// <summary>How a <see cref="SwitchPort"/> maps frames to VLANs.</summary>
public enum SwitchPortMode
{
    /// <summary>
    /// Member of one VLAN (<see cref="SwitchPortOptions.AccessVlan"/>): untagged frames in and
    /// out. A tagged frame sent by the NIC is dropped and counted as a VLAN mismatch.
    /// </summary>
    Access,

    /// <summary>
    /// Member of <see cref="SwitchPortOptions.AllowedVlans"/>: tagged frames (TPID 0x8100) in and
    /// out, except the <see cref="SwitchPortOptions.NativeVlan"/>, which is carried untagged.
    /// </summary>
    Trunk,
}

/// <summary>Settings of one port of an <see cref="L2Switch"/>; the default is an access port in VLAN 1.</summary>
public sealed record SwitchPortOptions
{
    /// <summary>Access or trunk.</summary>
    public SwitchPortMode Mode { get; init; } = SwitchPortMode.Access;

    /// <summary>The VLAN of an access port (1..4094).</summary>
    public ushort AccessVlan { get; init; } = 1;

    /// <summary>VLANs a trunk port carries tagged; null means all of 1..4094.</summary>
    public IReadOnlyCollection<ushort>? AllowedVlans { get; init; }

    /// <summary>
    /// The VLAN untagged frames on a trunk belong to, sent untagged on egress; it is a member
    /// even when not in <see cref="AllowedVlans"/>. Null: untagged frames on the trunk are dropped.
    /// </summary>
    public ushort? NativeVlan { get; init; }

    /// <summary>
    /// Frames the port's egress queue holds for its delivery thread; a frame forwarded to a full
    /// queue is dropped (<see cref="SwitchPortCounters.DroppedQueueFull"/>), like a NIC whose
    /// receive ring is full. Rounded up to a power of two.
    /// </summary>
    public int EgressQueueCapacity { get; init; } = 1024;

    /// <summary>An access port in <paramref name="vlan"/>.</summary>
    public static SwitchPortOptions Access(ushort vlan) => new() { Mode = SwitchPortMode.Access, AccessVlan = vlan };

    /// <summary>A trunk carrying <paramref name="allowedVlans"/> (null: all) and optionally a native VLAN.</summary>
    public static SwitchPortOptions Trunk(IReadOnlyCollection<ushort>? allowedVlans = null, ushort? nativeVlan = null) =>
        new() { Mode = SwitchPortMode.Trunk, AllowedVlans = allowedVlans, NativeVlan = nativeVlan };
}
