using System.Buffers;
using Polynic.Core.Nic;
using Polynic.Ports.Offload;

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

    private readonly PortPair _pair;
    private readonly LoopbackDelivery _delivery;
    private readonly int _queueCapacity;
    private readonly SegmentSink _forwardSegment;
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
        _forwardSegment = segment => Peer.Accept(segment);
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

        // Pooled scratch: the offload work is done on a copy, never on the sender's buffer.
        int scratchLength = offload.GsoType != GsoType.None ? SoftwareOffload.ScratchLength(frame, offload) : frame.Length;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(scratchLength);
        try
        {
            if (offload.GsoType != GsoType.None) return SoftwareOffload.Segment(frame, offload, scratch, _forwardSegment);
            var copy = scratch.AsSpan(0, frame.Length);
            frame.CopyTo(copy);
            return SoftwareOffload.CompleteChecksum(copy, offload.ChecksumStart, offload.ChecksumOffset) && Peer.Accept(copy);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }
}
