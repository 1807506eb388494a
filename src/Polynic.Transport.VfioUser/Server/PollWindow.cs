namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// How long a session spins for the client's next message before it sleeps, adapted to how far
/// apart the client's messages have been (the rule of KVM's halt polling, virt/kvm/kvm_main.c).
/// </summary>
/// <remarks>
/// A fixed window spins after every message, also where the next one is far off: an e1000 guest
/// receiving at full rate writes RDT every couple of hundred microseconds, and the spin after
/// each write used a quarter of a core that the guest's vCPUs needed (docs/benchmarks.md). Here a
/// wait that a longer spin would have caught (no longer than the configured window) grows the
/// window, doubling from a start value up to the configured one; a wait longer than the configured
/// window halves it, and below the start value it drops to zero (no spinning) until waits are
/// short again. Register-heavy guests, whose reads follow each other within microseconds, keep the
/// full window.
/// </remarks>
internal sealed class PollWindow
{
    private readonly long _max;
    private readonly long _start;

    /// <summary>A window of at most <paramref name="maxTicks"/> (Stopwatch ticks); zero never spins.</summary>
    public PollWindow(long maxTicks)
    {
        _max = Math.Max(0, maxTicks);
        // A tenth of the window, as KVM starts at 10 us for a larger maximum: short enough that a
        // miss costs little, long enough that back-to-back register reads are caught at once.
        _start = Math.Max(1, _max / 10);
        Current = _max;
    }

    /// <summary>How long to spin before the next wait, in Stopwatch ticks.</summary>
    public long Current { get; private set; }

    /// <summary>
    /// What the last wait was: <paramref name="caught"/> when the spin saw the message, otherwise
    /// <paramref name="waitedTicks"/> from the start of the spin to the message's arrival.
    /// </summary>
    public void Record(bool caught, long waitedTicks)
    {
        if (caught || _max == 0) return;
        if (waitedTicks <= _max)
            Current = Current == 0 ? _start : Math.Min(Current * 2, _max);
        else
            Current = Current / 2 < _start ? 0 : Current / 2;
    }
}
