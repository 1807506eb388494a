using Polynic.Core.Nic;
using static Polynic.Personalities.E1000.E1000Bits;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The 82540's interrupt moderation (8254x SDM 3.2.7 "Receive Interrupt Delay", 3.4.x transmit
/// interrupt delay, 13.4.18 ITR): ITR throttles rising edges of the interrupt line to one per
/// ITR × 256 ns; RDTR (packet timer, restarted per frame) and RADV (absolute timer) delay RXT0;
/// TIDV and TADV do the same for TXDW of descriptors with IDE. A zero value disables a timer.
/// </summary>
/// <remarks>
/// <para>
/// Time comes from a <see cref="TimeProvider"/> so tests can drive it. Timers are created once;
/// arming one per frame is a <see cref="ITimer.Change"/>, which does not allocate. System timers
/// have millisecond granularity and may fire a little early: an expiry is taken as the end of the
/// interval whenever it comes, so moderation never delays an interrupt by more than the interval
/// plus timer slack, and never holds one forever.
/// </para>
/// <para>
/// Delayed causes are raised under the device lock (<c>sync</c>), like every other cause. The
/// throttle is consulted under the cause model's own lock and only arms a timer.
/// </para>
/// </remarks>
internal sealed class InterruptModeration : IInterruptModeration, IDisposable
{
    private const long DelayUnitNs = 1024;   // RDTR/RADV/TIDV/TADV: 1.024 µs
    private const long ThrottleUnitNs = 256; // ITR: 256 ns

    private readonly TimeProvider _time;
    private readonly object _sync;
    private readonly ITimer _throttleTimer;
    private readonly DelayedCause _receive;
    private readonly DelayedCause _transmit;
    private InterruptCauses? _causes;
    private uint _throttleInterval;
    private long _lastAssertion;
    private bool _hasAsserted;
    private bool _throttleArmed;
    private volatile bool _throttleExpired;

    private readonly long _timerResolutionNs;

    /// <param name="time">The clock and timers.</param>
    /// <param name="sync">The device lock delayed causes are raised under.</param>
    /// <param name="timerResolution">
    /// The finest delay the clock's timers can keep. A moderation interval shorter than this
    /// is not timed at all: the interrupt is delivered at once. The OS timers behind
    /// <see cref="TimeProvider.System"/> fire with about a millisecond of slack, while the
    /// Linux driver's defaults ask for tens of microseconds (ITR ≈ 50 µs, TIDV 8 µs, TADV
    /// 32 µs); timing those would turn a 50 µs hold-off into a millisecond of latency on
    /// every ping, and a late interrupt costs the guest far more than an extra one (its NAPI
    /// poll masks the interrupt while it works anyway).
    /// </param>
    public InterruptModeration(TimeProvider time, object sync, TimeSpan timerResolution = default)
    {
        _timerResolutionNs = (long)timerResolution.TotalNanoseconds;
        _time = time;
        _sync = sync;
        _throttleTimer = time.CreateTimer(static s => ((InterruptModeration)s!).OnThrottleExpired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _receive = new DelayedCause(this, IcrRxt0);
        _transmit = new DelayedCause(this, IcrTxdw);
    }

    /// <summary>Called if a timer callback throws (it should not): the device takes itself out of service.</summary>
    public Action<Exception>? OnFailure { get; set; }

    /// <summary>Rising edges held back by ITR so far.</summary>
    public long Throttled { get; private set; }

    /// <summary>The cause model this moderation gates and raises delayed causes into.</summary>
    public void Bind(InterruptCauses causes)
    {
        _causes = causes;
        causes.Moderation = this;
    }

    /// <summary>ITR was written: minimum interval between interrupts in 256 ns units (0: no throttling).</summary>
    public void SetThrottle(uint interval) => _throttleInterval = interval & 0xFFFF;

    /// <summary>A frame was delivered: raise RXT0 now, or after RDTR (restarted per frame) bounded by RADV.</summary>
    public void FrameReceived(uint rdtr, uint radv) => _receive.Event(rdtr & 0xFFFF, radv & 0xFFFF);

    /// <summary>RDTR was written with FPD: a pending receive timer expires now.</summary>
    public void FlushReceive() => _receive.Flush();

    /// <summary>Descriptors were written back: TXDW now, or (IDE set) after TIDV bounded by TADV.</summary>
    public void TransmitWrittenBack(bool delayed, uint tidv, uint tadv)
    {
        if (delayed) _transmit.Event(tidv & 0xFFFF, tadv & 0xFFFF);
        else _transmit.Flush(force: true);
    }

    /// <summary>Device reset: timers stopped, throttle state forgotten.</summary>
    public void Reset()
    {
        _throttleInterval = 0;
        _hasAsserted = false;
        _throttleArmed = false;
        _throttleTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _receive.Cancel();
        _transmit.Cancel();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _throttleTimer.Dispose();
        _receive.Dispose();
        _transmit.Dispose();
    }

    bool IInterruptModeration.AllowAssert(uint pending)
    {
        long now = _time.GetTimestamp();
        uint interval = _throttleInterval;
        if (interval * ThrottleUnitNs < _timerResolutionNs ||
            interval == 0 || !_hasAsserted || _throttleExpired || ElapsedNs(_lastAssertion, now) >= interval * ThrottleUnitNs)
        {
            _throttleExpired = false;
            _hasAsserted = true;
            _lastAssertion = now;
            return true;
        }
        Throttled++;
        if (!_throttleArmed)
        {
            _throttleArmed = true;
            long remaining = interval * ThrottleUnitNs - ElapsedNs(_lastAssertion, now);
            _throttleTimer.Change(TimeSpan.FromTicks(Math.Max(1, remaining / 100)), Timeout.InfiniteTimeSpan);
        }
        return false;
    }

    private void OnThrottleExpired()
    {
        try
        {
            _throttleArmed = false;
            _throttleExpired = true;
            _causes?.Update();
        }
        catch (Exception e)
        {
            OnFailure?.Invoke(e);
        }
    }

    private long ElapsedNs(long from, long to) => (long)_time.GetElapsedTime(from, to).TotalNanoseconds;

    private void Raise(uint cause) => _causes?.Raise(cause);

    /// <summary>One delayed cause: a packet timer restarted per event and an absolute timer started by the first event.</summary>
    private sealed class DelayedCause : IDisposable
    {
        private readonly InterruptModeration _owner;
        private readonly uint _cause;
        private readonly ITimer _timer;
        private bool _armed;
        private long _packetDeadline;
        private long _absoluteDeadline;

        public DelayedCause(InterruptModeration owner, uint cause)
        {
            _owner = owner;
            _cause = cause;
            _timer = owner._time.CreateTimer(static s => ((DelayedCause)s!).OnExpired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void Event(uint packetDelay, uint absoluteDelay)
        {
            // The packet timer decides when the cause fires; the absolute timer only caps it.
            if (packetDelay == 0 || packetDelay * DelayUnitNs < _owner._timerResolutionNs)
            {
                Flush(force: true);
                return;
            }
            long now = _owner._time.GetTimestamp();
            _packetDeadline = now + Ticks(packetDelay);
            if (!_armed)
            {
                _armed = true;
                _absoluteDeadline = absoluteDelay == 0 ? long.MaxValue : now + Ticks(absoluteDelay);
            }
            long due = Math.Min(_packetDeadline, _absoluteDeadline) - now;
            _timer.Change(_owner._time.GetElapsedTime(0, Math.Max(due, 1)), Timeout.InfiniteTimeSpan);
        }

        public void Flush(bool force = false)
        {
            if (!_armed && !force) return;
            Cancel();
            _owner.Raise(_cause);
        }

        public void Cancel()
        {
            if (!_armed) return;
            _armed = false;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void Dispose() => _timer.Dispose();

        private long Ticks(uint units) => (long)(units * DelayUnitNs * (_owner._time.TimestampFrequency / 1e9));

        private void OnExpired()
        {
            try
            {
                lock (_owner._sync)
                {
                    if (!_armed) return;   // cancelled or already flushed after the callback was queued
                    _armed = false;
                    _owner.Raise(_cause);
                }
            }
            catch (Exception e)
            {
                _owner.OnFailure?.Invoke(e);
            }
        }
    }
}
