namespace Polynic.Ports;

/// <summary>
/// What a port did, as plain monotonically increasing numbers (Firecracker's net metrics are the
/// model: counters designed in, read without locks). Updated with interlocked adds because the
/// send path and the receive thread run concurrently.
/// </summary>
public sealed class PortCounters
{
    private long _framesSent;
    private long _bytesSent;
    private long _framesReceived;
    private long _bytesReceived;
    private long _sendFailures;
    private long _receiveErrors;
    private long _receiveHeaderErrors;

    /// <summary>Frames handed to the peer (for a segmented send: one per send call).</summary>
    public long FramesSent => Volatile.Read(ref _framesSent);

    /// <summary>Bytes of the frames in <see cref="FramesSent"/> (Ethernet header on, no FCS, no vnet header).</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Frames delivered to the receiver.</summary>
    public long FramesReceived => Volatile.Read(ref _framesReceived);

    /// <summary>Bytes of the frames in <see cref="FramesReceived"/>.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Sends that returned false: link down, rejected offload, kernel error, full queue.</summary>
    public long SendFailures => Volatile.Read(ref _sendFailures);

    /// <summary>Received frames that were dropped (runts, read errors, a receiver that threw).</summary>
    public long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>
    /// Received frames dropped because the offload header in front of them (a tap's virtio-net
    /// header) did not describe them: bad gso_type, gso_size, hdr_len or checksum field. Each is
    /// also in <see cref="ReceiveErrors"/>.
    /// </summary>
    public long ReceiveHeaderErrors => Volatile.Read(ref _receiveHeaderErrors);

    internal void CountReceiveHeaderError()
    {
        Interlocked.Increment(ref _receiveHeaderErrors);
        Interlocked.Increment(ref _receiveErrors);
    }

    internal void CountSent(int bytes)
    {
        Interlocked.Increment(ref _framesSent);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    internal void CountReceived(int bytes)
    {
        Interlocked.Increment(ref _framesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    internal void CountSendFailure() => Interlocked.Increment(ref _sendFailures);

    internal void CountReceiveError() => Interlocked.Increment(ref _receiveErrors);

    /// <inheritdoc/>
    public override string ToString() =>
        $"sent {FramesSent} frames/{BytesSent} bytes, received {FramesReceived} frames/{BytesReceived} bytes, " +
        $"{SendFailures} send failures, {ReceiveErrors} receive errors";
}
