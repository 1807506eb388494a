using Microsoft.Extensions.Logging;

namespace Polynic.Core.Nic;

/// <summary>
/// A rate-limited warning log for guest-caused faults (bad ring indices, descriptors outside RAM,
/// malformed offload requests): a hostile or buggy guest can cause one per register write, and the
/// log must not become the denial of service. At most <see cref="Burst"/> messages per
/// <see cref="Interval"/>; the rest are only counted, and the next message that passes says how
/// many were suppressed.
/// </summary>
/// <remarks>Not thread-safe; call it under the device's lock. Allocates only when it actually logs.</remarks>
public sealed class FaultLog
{
    private readonly TimeProvider _time;
    private long _windowStart;
    private int _inWindow;
    private long _suppressed;

    /// <summary>Creates a limiter of <paramref name="burst"/> messages per <paramref name="interval"/>.</summary>
    public FaultLog(TimeProvider? time = null, int burst = 10, TimeSpan? interval = null)
    {
        _time = time ?? TimeProvider.System;
        Burst = burst;
        Interval = interval ?? TimeSpan.FromSeconds(1);
        _windowStart = long.MinValue;
    }

    /// <summary>Messages allowed per interval.</summary>
    public int Burst { get; }

    /// <summary>Length of a rate window.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Messages dropped by the limiter since creation.</summary>
    public long Suppressed => _suppressed;

    /// <summary>Whether a message may be logged now; counts it either way.</summary>
    public bool ShouldLog()
    {
        long now = _time.GetTimestamp();
        if (_windowStart == long.MinValue || _time.GetElapsedTime(_windowStart, now) >= Interval)
        {
            _windowStart = now;
            _inWindow = 0;
        }
        if (_inWindow >= Burst)
        {
            _suppressed++;
            return false;
        }
        _inWindow++;
        return true;
    }

    /// <summary>Logs a warning "{what}: {detail}" unless the rate limit is reached.</summary>
    public void Warn(ILogger log, string what, ulong detail)
    {
        if (!ShouldLog()) return;
        log.LogWarning("Guest fault: {What} (0x{Detail:x}); {Suppressed} similar messages suppressed so far", what, detail, _suppressed);
    }
}
