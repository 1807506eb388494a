namespace Polynic.Ports.Switching;

/// <summary>
/// What one <see cref="SwitchPort"/> did. "In" is what its NIC sent into the switch, "out" what
/// the switch delivered to its NIC. Plain monotonically increasing numbers, read without locks.
/// </summary>
public sealed class SwitchPortCounters
{
    private long _framesIn;
    private long _bytesIn;
    private long _framesOut;
    private long _bytesOut;
    private long _droppedQueueFull;
    private long _droppedVlanMismatch;
    private long _droppedMalformed;
    private long _droppedLinkDown;
    private long _receiverFaults;

    /// <summary>Frames the NIC sent that the switch took (before forwarding decisions).</summary>
    public long FramesIn => Volatile.Read(ref _framesIn);

    /// <summary>Bytes of <see cref="FramesIn"/>.</summary>
    public long BytesIn => Volatile.Read(ref _bytesIn);

    /// <summary>Frames delivered to the port's receiver.</summary>
    public long FramesOut => Volatile.Read(ref _framesOut);

    /// <summary>Bytes of <see cref="FramesOut"/>, as delivered (tag added or removed).</summary>
    public long BytesOut => Volatile.Read(ref _bytesOut);

    /// <summary>Frames forwarded to this port that found its egress queue full.</summary>
    public long DroppedQueueFull => Volatile.Read(ref _droppedQueueFull);

    /// <summary>
    /// Frames the NIC sent that belong to no VLAN of the port: tagged on an access port, untagged
    /// on a trunk without native VLAN, tagged with a VLAN the trunk does not carry.
    /// </summary>
    public long DroppedVlanMismatch => Volatile.Read(ref _droppedVlanMismatch);

    /// <summary>
    /// Frames the NIC sent that no switch forwards: shorter than an Ethernet header (or a tagged
    /// one), longer than <see cref="L2SwitchOptions.MaxFrameLength"/>, from a group source address,
    /// or with an offload the port does not take.
    /// </summary>
    public long DroppedMalformed => Volatile.Read(ref _droppedMalformed);

    /// <summary>Frames sent or forwarded while the port was disabled, not started or disposed.</summary>
    public long DroppedLinkDown => Volatile.Read(ref _droppedLinkDown);

    /// <summary>Exceptions the receiver threw (kept from the switch; see <see cref="SwitchPort.LastReceiverFault"/>).</summary>
    public long ReceiverFaults => Volatile.Read(ref _receiverFaults);

    internal void CountIn(int bytes)
    {
        Interlocked.Increment(ref _framesIn);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    // Only the port's delivery thread counts out, so plain adds published with a volatile write suffice.
    internal void CountOut(long frames, long bytes)
    {
        Volatile.Write(ref _framesOut, _framesOut + frames);
        Volatile.Write(ref _bytesOut, _bytesOut + bytes);
    }

    internal void CountQueueFull() => Interlocked.Increment(ref _droppedQueueFull);

    internal void CountVlanMismatch() => Interlocked.Increment(ref _droppedVlanMismatch);

    internal void CountMalformed() => Interlocked.Increment(ref _droppedMalformed);

    internal void CountLinkDown() => Interlocked.Increment(ref _droppedLinkDown);

    internal void CountReceiverFault() => Interlocked.Increment(ref _receiverFaults);

    /// <inheritdoc/>
    public override string ToString() =>
        $"in {FramesIn} frames/{BytesIn} bytes, out {FramesOut} frames/{BytesOut} bytes, dropped: " +
        $"{DroppedQueueFull} queue full, {DroppedVlanMismatch} VLAN mismatch, {DroppedMalformed} malformed, " +
        $"{DroppedLinkDown} link down; {ReceiverFaults} receiver faults";
}
