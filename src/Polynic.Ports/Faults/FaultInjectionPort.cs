using System.Buffers;
using System.Diagnostics;
using Polynic.Core.Nic;

namespace Polynic.Ports.Faults;

/// <summary>
/// A port decorator that makes the wire misbehave on purpose: drops, corrupts and delays
/// frames in either direction and forces the link down, as set by <see cref="Settings"/>, which
/// can change at any time from any thread. Every random decision comes from a generator seeded
/// by <see cref="FaultInjectionOptions.Seed"/>, so a failure found with a seed can be replayed.
/// </summary>
/// <remarks>
/// Delayed frames are copied into preallocated per-direction queues and released in order by
/// one thread of the port; a full queue drops the frame and counts it. Frames without delay go
/// through on the caller's thread, unless frames of the same direction are still queued (then
/// they queue behind them, so nothing is reordered). The steady-state paths allocate nothing.
/// A forced link change is reported to the NIC on the thread that changes the settings.
/// </remarks>
public sealed class FaultInjectionPort : PortDecorator, IDelayedDelivery
{
    private const int EthernetHeaderLength = 14;
    private const int ScratchLength = 64 * 1024 + 256;
    private const ulong InboundSeedSalt = 0x6A09E667F3BCC909;

    private readonly DirectionState _outbound;
    private readonly DirectionState _inbound;
    private readonly DelayLine _delayLine;
    private readonly Lock _linkGate = new();
    private volatile FaultSettings _settings;
    private bool _innerLinkUp;
    private bool _reportedLinkUp;

    /// <summary>
    /// Wraps <paramref name="inner"/>; with <paramref name="ownsInner"/> disposing this port
    /// disposes it too. Starts the delay thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting or queue size is out of range.</exception>
    public FaultInjectionPort(IPort inner, FaultInjectionOptions? options = null, bool ownsInner = true)
        : base(inner, ownsInner)
    {
        options ??= new FaultInjectionOptions();
        ArgumentNullException.ThrowIfNull(options.Settings, nameof(options.Settings));
        options.Settings.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.DelayQueueFrames, nameof(options.DelayQueueFrames));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.DelayQueueBytes, nameof(options.DelayQueueBytes));
        Seed = options.Seed;
        _settings = options.Settings;
        _outbound = new DirectionState(new FaultRandom(options.Seed), Counters.Outbound);
        _inbound = new DirectionState(new FaultRandom(options.Seed ^ InboundSeedSalt), Counters.Inbound);
        _innerLinkUp = inner.LinkUp;
        _reportedLinkUp = _innerLinkUp && !_settings.LinkDown;
        _delayLine = new DelayLine(inner.Name, options.DelayQueueFrames, options.DelayQueueBytes, this);
    }

    /// <summary>The seed the fault decisions started from.</summary>
    public ulong Seed { get; }

    /// <summary>Faults applied, per kind and direction.</summary>
    public FaultCounters Counters { get; } = new();

    /// <summary>
    /// The last exception the NIC's receiver threw on the delay thread; kept (not rethrown, a
    /// port never throws into a NIC) so a test can fail with it.
    /// </summary>
    public Exception? LastReceiverFault { get; private set; }

    /// <summary>
    /// The faults in force. Setting takes effect for the next frame of each direction (frames
    /// already queued keep their due time) and reports a forced link change to the NIC at once.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range (see <see cref="FaultSettings.Validate"/>).</exception>
    public FaultSettings Settings
    {
        get => _settings;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            lock (_linkGate)
            {
                _settings = value;
                ReportLink();
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>False while <see cref="FaultSettings.LinkDown"/> is set, else the inner port's link.</remarks>
    public override bool LinkUp => !_settings.LinkDown && Inner.LinkUp;

    /// <summary>Whether the delay thread runs (it stops on dispose).</summary>
    internal bool IsDelayThreadRunning => _delayLine.IsRunning;

    /// <inheritdoc/>
    public override void Start(IPortReceiver receiver)
    {
        lock (_linkGate)
        {
            _innerLinkUp = Inner.LinkUp;
            _reportedLinkUp = _innerLinkUp && !_settings.LinkDown;
        }
        base.Start(receiver);
    }

    /// <inheritdoc/>
    /// <remarks>A dropped frame still returns true (the wire lost it); a forced link-down returns false.</remarks>
    public override bool Send(ReadOnlySpan<byte> frame) => Apply(_outbound, frame, default, hasOffload: false);

    /// <inheritdoc/>
    public override bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) => Apply(_outbound, frame, offload, hasOffload: true);

    /// <inheritdoc/>
    public override void Receive(ReadOnlySpan<byte> frame) => Apply(_inbound, frame, default, hasOffload: false);

    /// <inheritdoc/>
    /// <remarks>
    /// None: loss, corruption and delay are defined per wire frame, so the inner port is asked for
    /// complete MTU-sized frames whatever the NIC could take.
    /// </remarks>
    public override PortCapabilities ReceiveCapabilities => PortCapabilities.None;

    /// <inheritdoc/>
    /// <remarks>Only an inner port that ignores <see cref="ReceiveCapabilities"/> calls it: the frame is completed in software and each result meets the faults.</remarks>
    public override void Receive(ReadOnlySpan<byte> frame, in FrameOffload offload) =>
        Polynic.Core.Nic.Offload.ReceiveOffloadCompletion.Deliver(this, frame, offload);

    /// <inheritdoc/>
    public override void LinkChanged(bool up)
    {
        lock (_linkGate)
        {
            _innerLinkUp = up;
            ReportLink();
        }
    }

    void IDelayedDelivery.DeliverOutbound(ReadOnlySpan<byte> frame, in FrameOffload offload, bool hasOffload)
    {
        if (_settings.LinkDown)
        {
            Counters.Outbound.CountLinkDown();
            return;
        }
        if (hasOffload) Inner.Send(frame, offload);
        else Inner.Send(frame);
    }

    void IDelayedDelivery.DeliverInbound(ReadOnlySpan<byte> frame)
    {
        if (_settings.LinkDown)
        {
            Counters.Inbound.CountLinkDown();
            return;
        }
        try
        {
            Receiver?.Receive(frame);
        }
        catch (Exception exception)
        {
            LastReceiverFault = exception;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _delayLine.Dispose();
        base.Dispose(disposing);
    }

    // Runs the decisions of one frame under the direction's lock (so the generator's sequence
    // is the frames' sequence), then passes the frame on, queues it, or loses it.
    private bool Apply(DirectionState direction, ReadOnlySpan<byte> frame, in FrameOffload offload, bool hasOffload)
    {
        bool outbound = direction == _outbound;
        var settings = _settings;
        if (settings.LinkDown || IsDisposed)
        {
            direction.Counters.CountLinkDown();
            return false;
        }
        var faults = outbound ? settings.Outbound : settings.Inbound;
        byte[]? copy = null;
        bool pooled = false;
        long delayTicks = 0;
        try
        {
            lock (direction.Gate)
            {
                if (faults.DropProbability > 0 && direction.Random.NextDouble() < faults.DropProbability)
                {
                    direction.Counters.CountDropped();
                    return true;
                }
                if (faults.CorruptProbability > 0 && frame.Length > EthernetHeaderLength
                    && direction.Random.NextDouble() < faults.CorruptProbability)
                {
                    (copy, pooled) = direction.TakeScratch(frame.Length);
                    frame.CopyTo(copy);
                    // XOR with 1..255 always changes the byte; the MAC addresses stay intact.
                    int at = EthernetHeaderLength + direction.Random.Next(frame.Length - EthernetHeaderLength);
                    copy[at] ^= (byte)(1 + direction.Random.Next(255));
                    frame = copy.AsSpan(0, frame.Length);
                    direction.Counters.CountCorrupted();
                }
                if (faults.Delays) delayTicks = DelayTicks(ref direction.Random, faults);
            }
            return Forward(outbound, direction, frame, offload, hasOffload, delayTicks);
        }
        finally
        {
            if (copy is not null) direction.ReturnScratch(copy, pooled);
        }
    }

    private bool Forward(bool outbound, DirectionState direction, ReadOnlySpan<byte> frame, in FrameOffload offload,
        bool hasOffload, long delayTicks)
    {
        if (delayTicks == 0 && _delayLine.IsIdle(outbound))
        {
            if (outbound) return hasOffload ? Inner.Send(frame, offload) : Inner.Send(frame);
            Receiver?.Receive(frame);
            return true;
        }
        if (!_delayLine.TryEnqueue(outbound, frame, offload, hasOffload, Stopwatch.GetTimestamp() + delayTicks))
        {
            direction.Counters.CountQueueFull();
            return false;
        }
        direction.Counters.CountDelayed();
        return true;
    }

    private static long DelayTicks(ref FaultRandom random, DirectionFaults faults)
    {
        long delay = faults.Delay.Ticks;
        if (faults.Jitter > TimeSpan.Zero) delay += random.NextSigned(faults.Jitter.Ticks);
        if (delay <= 0) return 0;
        return (long)(delay * (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond);
    }

    // Only called under _linkGate, so reports reach the NIC in the order the changes happened.
    private void ReportLink()
    {
        bool up = _innerLinkUp && !_settings.LinkDown;
        if (up == _reportedLinkUp) return;
        _reportedLinkUp = up;
        if (Receiver is not { } receiver) return;
        Counters.CountLinkTransition();
        receiver.LinkChanged(up);
    }

    /// <summary>The generator, counters and corruption buffer of one direction.</summary>
    private sealed class DirectionState(FaultRandom random, DirectionFaultCounters counters)
    {
        private readonly byte[] _scratch = new byte[ScratchLength];
        private bool _scratchBusy;

        public readonly Lock Gate = new();
        public FaultRandom Random = random;
        public DirectionFaultCounters Counters { get; } = counters;

        /// <summary>
        /// The preallocated buffer, or a pooled one if the frame is larger or the buffer is in
        /// use (a frame re-entering the same direction from inside a delivery). Called under Gate.
        /// </summary>
        public (byte[] Buffer, bool Pooled) TakeScratch(int length)
        {
            if (_scratchBusy || length > _scratch.Length) return (ArrayPool<byte>.Shared.Rent(length), true);
            _scratchBusy = true;
            return (_scratch, false);
        }

        public void ReturnScratch(byte[] buffer, bool pooled)
        {
            if (pooled)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return;
            }
            lock (Gate) _scratchBusy = false;
        }
    }
}
