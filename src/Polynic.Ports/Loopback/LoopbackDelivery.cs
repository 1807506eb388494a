namespace Polynic.Ports.Loopback;

/// <summary>How a <see cref="PortPair"/> hands a frame sent on one end to the other end's receiver.</summary>
public enum LoopbackDelivery
{
    /// <summary>
    /// On the sender's thread, before Send returns: deterministic, so a unit test can send and
    /// assert at once. A receiver that sends from its callback re-enters the other NIC on the same
    /// stack. A receiving <see cref="Polynic.Core.Nic.NicDevice"/> does not wait for room on a thread
    /// that is sending from another NIC, but two NICs that send to each other at the same time take
    /// each other's locks in opposite order: NICs with traffic both ways must use <see cref="Queued"/>.
    /// </summary>
    Inline,

    /// <summary>
    /// Copied into a bounded queue and delivered by a worker thread of the receiving end, as a real
    /// port does (<see cref="Polynic.Core.Nic.IPort"/>: "on a thread of its own"). A full queue
    /// drops the frame and Send returns false, like a NIC whose receive ring is full.
    /// </summary>
    Queued,
}
