using Polynic.Core.Memory;

namespace Polynic.Core.Virtio;

/// <summary>One buffer of a descriptor chain: where it is, how long, and whether the device writes it.</summary>
/// <param name="Address">Guest-physical start of the buffer.</param>
/// <param name="Length">Bytes in the buffer.</param>
/// <param name="DeviceWritable">VIRTQ_DESC_F_WRITE: the device writes (receive buffers, control acks); else it reads.</param>
public readonly record struct VirtqueueSegment(GuestAddress Address, uint Length, bool DeviceWritable);

/// <summary>What popping a chain from a virtqueue found.</summary>
public enum ChainStatus
{
    /// <summary>A well-formed chain.</summary>
    Ok,
    /// <summary>No buffers available (or the queue is not live).</summary>
    Empty,
    /// <summary>
    /// The chain is malformed (a loop, longer than the queue, an index out of range, a bad indirect
    /// table, readable after writable, ring memory outside RAM). Its head is consumed; the device
    /// should return it used with length 0 and carry on.
    /// </summary>
    Malformed,
    /// <summary>The avail index is more than the queue size ahead: the ring is unusable until reset.</summary>
    Broken,
}
