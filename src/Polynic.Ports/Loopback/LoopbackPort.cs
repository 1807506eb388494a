using System.Buffers;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Ports.Loopback;

/// <summary>
/// One end of a <see cref="PortPair"/>: what it sends, the other end's receiver gets. Made by
/// <see cref="PortPair"/>, never on its own.
/// </summary>
/// <remarks>
/// Offloaded sends are finished in software first (checksum completed, TCP segmented into
/// several frames), so the receiving NIC always sees frames as a wire would carry them. A frame
/// sent before the other end is started is dropped and Send returns false, like a cable into a
/// NIC that is not listening.
/// </remarks>
public sealed class LoopbackPort : IPort, IQueuedDelivery
{
    private const int EthernetHeaderLength = 14;

    // Linux GSO_MAX_SEGS: no bound beyond what a 64 KiB datagram (checked by the segmenter) allows.
    private const int MaxSegments = ushort.MaxValue;

    private readonly PortPair _pair;
    private readonly LoopbackDelivery _delivery;
    private readonly int _queueCapacity;
    private readonly object _gate = new();
    private volatile IPortReceiver? _receiver;
    private FrameQueue? _queue;
    private volatile bool _disposed;

    internal LoopbackPort(PortPair pair, string name, PortCapabilities capabilities, PortPairOptions options)
    {
        _pair = pair;
        Name = name;
        Capabilities = capabilities;
        _delivery = options.Delivery;
        _queueCapacity = options.QueueCapacity;
    }

    /// <summary>The other end.</summary>
    public LoopbackPort Peer { get; internal set; } = null!;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public PortCapabilities Capabilities { get; }

    /// <summary>Frames, bytes and failures of this end (a segmented send counts as one frame sent).</summary>
    public PortCounters Counters { get; } = new();

    /// <summary>
    /// The last exception this end's receiver threw. The port does not let it reach the sender
    /// (a port never throws into a NIC) but keeps it so a test can fail with it.
    /// </summary>
    public Exception? LastReceiverFault { get; private set; }

    /// <inheritdoc/>
    /// <remarks>True while the pair is connected and neither end is disposed.</remarks>
    public bool LinkUp => _pair.Connected && !_disposed && !Peer._disposed;

    internal bool IsDisposed => _disposed;

    /// <summary>Whether this end's delivery worker runs (<see cref="LoopbackDelivery.Queued"/> only).</summary>
    internal bool IsDelivering => _queue?.IsRunning ?? false;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    /// <exception cref="ObjectDisposedException">The port was disposed.</exception>
    public void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_receiver is not null) throw new InvalidOperationException($"{Name} is already started.");
            if (_delivery == LoopbackDelivery.Queued) _queue = new FrameQueue(Name, _queueCapacity, this);
            _receiver = receiver;
        }
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> frame) => Send(frame, default);

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        bool sent = LinkUp && frame.Length >= EthernetHeaderLength && Accepts(offload) && Forward(frame, offload);
        if (sent) Counters.CountSent(frame.Length);
        else Counters.CountSendFailure();
        return sent;
    }

    /// <summary>Stops this end; the other end sees link-down if the pair was connected.</summary>
    public void Dispose()
    {
        FrameQueue? queue;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            queue = _queue;
        }
        queue?.Dispose();
        _pair.OnEndDisposed(this);
    }

    /// <summary>Takes a frame from the other end; false if this end cannot take it now.</summary>
    internal bool Accept(ReadOnlySpan<byte> frame)
    {
        if (_disposed || _receiver is null) return false;
        if (_queue is { } queue) return queue.TryEnqueueFrame(frame);
        ((IQueuedDelivery)this).DeliverFrame(frame);
        return true;
    }

    /// <summary>Tells this end's receiver (if started) about a link change, in order with its frames.</summary>
    internal void NotifyLink(bool up)
    {
        if (_disposed || _receiver is null) return;
        if (_queue is { } queue) queue.EnqueueLink(up);
        else ((IQueuedDelivery)this).DeliverLink(up);
    }

    void IQueuedDelivery.DeliverFrame(ReadOnlySpan<byte> frame)
    {
        Counters.CountReceived(frame.Length);
        try
        {
            _receiver?.Receive(frame);
        }
        catch (Exception exception)
        {
            Counters.CountReceiveError();
            LastReceiverFault = exception;
        }
    }

    void IQueuedDelivery.DeliverLink(bool up)
    {
        try
        {
            _receiver?.LinkChanged(up);
        }
        catch (Exception exception)
        {
            LastReceiverFault = exception;
        }
    }

    private bool Accepts(in FrameOffload offload)
    {
        var needed = PortCapabilities.None;
        if (offload.NeedsChecksum) needed |= PortCapabilities.Checksum;
        if (offload.GsoType != GsoType.None) needed |= PortCapabilities.Segmentation;
        return (Capabilities & needed) == needed;
    }

    private bool Forward(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (offload.GsoType == GsoType.None && !offload.NeedsChecksum) return Peer.Accept(frame);
        return offload.GsoType != GsoType.None ? Segment(frame, offload) : CompleteChecksum(frame, offload);
    }

    // The offload work is done on pooled scratch, never on the sender's buffer.
    private bool CompleteChecksum(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(frame.Length);
        try
        {
            var copy = scratch.AsSpan(0, frame.Length);
            frame.CopyTo(copy);
            return ChecksumOffload.TryComplete(copy, offload) && Peer.Accept(copy);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    // Every segment gets a full checksum, so a partial one needs nothing more. A segment the peer
    // refuses (queue full, stopped) ends the send as failed, like the rest of a dropped burst.
    private bool Segment(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (TcpSegmenter.TryCreate(frame, offload, out var segmenter, MaxSegments) != OffloadStatus.Ok) return false;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(segmenter.MaxSegmentLength);
        try
        {
            while (segmenter.TryWriteNext(scratch, out int length))
                if (!Peer.Accept(scratch.AsSpan(0, length))) return false;
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}
