namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>A clock that only moves when a test says so; timers fire synchronously inside <see cref="Advance"/>.</summary>
public sealed class ManualTime : TimeProvider
{
    private readonly List<Timer> _timers = [];
    private long _now = 1_000_000_000;

    public override long TimestampFrequency => 1_000_000_000;

    public override long GetTimestamp() => _now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var t = new Timer(this, callback, state);
        lock (_timers) _timers.Add(t);
        t.Change(dueTime, period);
        return t;
    }

    /// <summary>Timers currently armed.</summary>
    public int Armed { get { lock (_timers) return _timers.Count(t => t.Due != long.MaxValue); } }

    public void Advance(TimeSpan by)
    {
        long end = _now + (long)by.TotalNanoseconds;
        while (true)
        {
            Timer? next;
            lock (_timers) next = _timers.Where(t => t.Due <= end).OrderBy(t => t.Due).FirstOrDefault();
            if (next is null) break;
            _now = Math.Max(_now, next.Due);
            next.Due = long.MaxValue;
            next.Callback(next.State);
        }
        _now = end;
    }

    private sealed class Timer(ManualTime owner, TimerCallback callback, object? state) : ITimer
    {
        public long Due = long.MaxValue;
        public TimerCallback Callback => callback;
        public object? State => state;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : owner._now + (long)dueTime.TotalNanoseconds;
            return true;
        }

        public void Dispose() => Due = long.MaxValue;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
