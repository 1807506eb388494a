namespace Polynic.Core.Nic.Filtering;

/// <summary>Why a <see cref="ReceiveFilter"/> accepted or rejected a frame: one counter each.</summary>
public enum ReceiveFilterResult : byte
{
    /// <summary>Unicast destination matched a valid exact-table entry.</summary>
    AcceptedUnicast,
    /// <summary>Unicast destination accepted by promiscuous unicast mode.</summary>
    AcceptedPromiscuous,
    /// <summary>Broadcast destination accepted because broadcast accept is on.</summary>
    AcceptedBroadcast,
    /// <summary>Group destination (broadcast included) accepted by all-multicast mode.</summary>
    AcceptedAllMulticast,
    /// <summary>Group destination matched a valid exact-table entry.</summary>
    AcceptedMulticastExact,
    /// <summary>Group destination's hash bit is set in the multicast table.</summary>
    AcceptedMulticastHash,

    /// <summary>Shorter than an Ethernet header (14 bytes).</summary>
    RejectedTooShort,
    /// <summary>VLAN-tagged with a VLAN ID not set in the VLAN filter table.</summary>
    RejectedVlan,
    /// <summary>Unicast destination not in the exact table, promiscuous off.</summary>
    RejectedUnicast,
    /// <summary>Group destination matched no filter.</summary>
    RejectedMulticast,
    /// <summary>Broadcast with broadcast accept off (and not let through by a group filter).</summary>
    RejectedBroadcast,
}

/// <summary>Helpers on <see cref="ReceiveFilterResult"/>.</summary>
public static class ReceiveFilterResultExtensions
{
    /// <summary>Whether the frame is to be delivered to the guest.</summary>
    public static bool IsAccepted(this ReceiveFilterResult result) => result <= ReceiveFilterResult.AcceptedMulticastHash;
}
