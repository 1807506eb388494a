namespace Polynic.Fuzzing.Devices;

/// <summary>
/// A clock that moves only when the fuzzer says so: a personality built on it (the e1000's
/// interrupt moderation) arms timers that fire on the fuzzing thread, inside a step, in a
/// seed-determined order, instead of on the thread pool whenever the host's timers please.
/// </summary>
internal sealed class ManualClock : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _now = 1;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now;

    public override DateTimeOffset GetUtcNow() => new(_now, TimeSpan.Zero);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_timers) _timers.Add(timer);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time on by <paramref name="delta"/>, firing due timers in due order on this thread.</summary>
    public void Advance(TimeSpan delta)
    {
        long end = _now + Math.Max(0, delta.Ticks);
        // Bounded: each pass fires one timer at or before the end; a periodic timer moves its due
        // time on by at least a tick, so the passes end once every due time is past the end.
        for (int fired = 0; fired < 100_000; fired++)
        {
            ManualTimer? next = null;
            lock (_timers)
                foreach (var t in _timers)
                    if (t.Due <= end && (next is null || t.Due < next.Due)) next = t;
            if (next is null) break;
            _now = Math.Max(_now, next.Due);
            next.Fire();
        }
        _now = end;
    }

    private void Remove(ManualTimer timer)
    {
        lock (_timers) _timers.Remove(timer);
    }

    private sealed class ManualTimer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _period = -1;

        /// <summary>When it fires next, in clock ticks; long.MaxValue when disarmed.</summary>
        public long Due { get; private set; } = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : clock._now + Math.Max(0, dueTime.Ticks);
            _period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? -1 : period.Ticks;
            return true;
        }

        public void Fire()
        {
            Due = _period > 0 ? Due + _period : long.MaxValue;
            callback(state);
        }

        public void Dispose()
        {
            Due = long.MaxValue;
            clock.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
