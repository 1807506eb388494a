namespace Polynic.Ports.Switching;

/// <summary>Settings of an <see cref="L2Switch"/>.</summary>
public sealed record L2SwitchOptions
{
    /// <summary>
    /// How long a learned address stays without a frame from it (IEEE 802.1Q-2018, 8.8.3 ageing
    /// time; the standard's default is 300 s). An entry older than this is no longer used for
    /// forwarding and is removed by the next sweep.
    /// </summary>
    public TimeSpan MacAgingTime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// Most addresses the MAC table holds, over all ports and VLANs. When it is full, learning a
    /// new address evicts an old one (see <see cref="L2SwitchCounters.Evicted"/>): a guest sending
    /// from random source addresses cannot grow the switch's memory.
    /// </summary>
    public int MacTableCapacity { get; init; } = 4096;

    /// <summary>
    /// Longest frame a port takes, in bytes without FCS, an 802.1Q tag included: 1518 carries a
    /// 1500-byte payload tagged. Longer frames are dropped as malformed. Every port preallocates
    /// its egress queue in slots of this size plus a tag.
    /// </summary>
    public int MaxFrameLength { get; init; } = 1518;

    /// <summary>The clock used for address ageing; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
