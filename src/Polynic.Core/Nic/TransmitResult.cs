namespace Polynic.Core.Nic;

/// <summary>What became of a frame a personality handed to <see cref="NicDevice"/>'s transmit egress.</summary>
public enum TransmitResult : byte
{
    /// <summary>Every frame it made went to the port or, in loopback, back into the NIC's own receive path.</summary>
    Sent,

    /// <summary>
    /// The port refused it (or some of its segments), or there was no port or link; counted in
    /// <see cref="NicCounters.TxDropped"/>. As on a cable without carrier, the NIC completes its
    /// descriptors normally.
    /// </summary>
    Dropped,

    /// <summary>
    /// Its offload could not be honoured (headers that do not parse or do not match the offload,
    /// segment size 0, too many segments): nothing was sent; counted in <see cref="NicCounters.TxErrors"/>.
    /// </summary>
    Refused,
}
