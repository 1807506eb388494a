using System.Diagnostics;
using Polynic.Native;

namespace Polynic.Fuzzing;

/// <summary>How long a step took: wall-clock time, and an upper bound of the CPU time it used.</summary>
/// <param name="Wall">Wall-clock time from Begin to End.</param>
/// <param name="Cpu">
/// CPU time the loop's thread used since the last sample before the step began (so at least the
/// step's own); equal to <paramref name="Wall"/> when the step was within the limit and not measured.
/// </param>
public readonly record struct StepTime(TimeSpan Wall, TimeSpan Cpu);

/// <summary>
/// Watches a fuzzing loop's steps. The loop, on a thread of its own (<see cref="Run"/>), brackets
/// every step with <see cref="Begin"/> and <see cref="End"/>. A step is a hang (<see cref="IsHang"/>)
/// if it computed for longer than <see cref="Limit"/> — CPU time, because wall-clock time on a busy
/// host also counts the time the thread waited for a core — or was blocked for longer than
/// <see cref="AbandonAfter"/>; the loop records it when the step returns. A step still running after
/// <see cref="AbandonAfter"/> never will, as far as the campaign is concerned: the watching thread
/// gives the loop up (a .NET thread cannot be killed; it stays blocked as a background thread) and
/// reports the step itself.
/// </summary>
/// <remarks>
/// Begin and End cost a timestamp and one interlocked exchange; the thread's CPU clock (a system
/// call) is sampled every 256 steps and read again only for a step that ran past the limit. The
/// loop must not touch shared state (its report) between Begin and End, and must stop as soon as
/// End returns false: from then on the watching thread owns that state.
/// </remarks>
public sealed class StepWatchdog
{
    private const long Idle = 0, Abandoned = -1;
    // Stopwatch timestamp at which the current step began, Idle between steps, Abandoned once given up.
    private long _started;
    private long _step;
    private long _begins;
    private TimeSpan _cpuSample;

    /// <summary>A watchdog with the given hang limit and give-up limit.</summary>
    /// <exception cref="ArgumentException">A limit is not positive, or the give-up limit is below the hang limit.</exception>
    public StepWatchdog(TimeSpan limit, TimeSpan abandonAfter)
    {
        if (limit <= TimeSpan.Zero || abandonAfter < limit) throw new ArgumentException("the step limit must be positive and no longer than the give-up limit");
        Limit = limit;
        AbandonAfter = abandonAfter;
    }

    /// <summary>A step that takes longer than this is a hang.</summary>
    public TimeSpan Limit { get; }

    /// <summary>A step still running after this is given up on.</summary>
    public TimeSpan AbandonAfter { get; }

    /// <summary>Whether the loop was given up on.</summary>
    public bool WasAbandoned => Interlocked.Read(ref _started) == Abandoned;

    /// <summary>The fuzzing loop starts step <paramref name="step"/>.</summary>
    public void Begin(long step)
    {
        if ((_begins++ & 255) == 0) _cpuSample = ThreadCpuClock.Now;
        Volatile.Write(ref _step, step);
        // A timestamp is never 0 or negative on Linux; max(1) keeps Idle unambiguous anyway.
        Interlocked.Exchange(ref _started, Math.Max(1, Stopwatch.GetTimestamp()));
    }

    /// <summary>
    /// The step returned. False if the watching thread gave the loop up meanwhile: the loop must
    /// then stop at once without touching its report.
    /// </summary>
    /// <param name="time">How long the step took.</param>
    public bool End(out StepTime time)
    {
        long started = Interlocked.Read(ref _started);
        var wall = Stopwatch.GetElapsedTime(started);
        time = new StepTime(wall, wall > Limit ? ThreadCpuClock.Now - _cpuSample : wall);
        return started != Abandoned && Interlocked.CompareExchange(ref _started, Idle, started) == started;
    }

    /// <summary>
    /// Whether a step that took <paramref name="time"/> is a hang: it computed for longer than
    /// <paramref name="limit"/> (<see cref="Limit"/> by default), or was blocked past <see cref="AbandonAfter"/>.
    /// </summary>
    public bool IsHang(StepTime time, TimeSpan? limit = null) => time.Cpu > (limit ?? Limit) || time.Wall > AbandonAfter;

    /// <summary>
    /// Runs <paramref name="loop"/> on a new background thread and waits for it. If a step runs past
    /// <see cref="AbandonAfter"/>, calls <paramref name="abandoned"/> with the step and how long it
    /// had run, and returns false without waiting further.
    /// </summary>
    /// <param name="name">The thread's name, for dumps.</param>
    /// <param name="loop">The fuzzing loop; an exception from it is rethrown here.</param>
    /// <param name="abandoned">Called on this thread when the loop is given up.</param>
    /// <returns>True if the loop returned.</returns>
    public bool Run(string name, Action loop, Action<long, TimeSpan> abandoned)
    {
        Exception? escaped = null;
        var thread = new Thread(() =>
        {
            try { loop(); }
            catch (Exception e) { escaped = e; }
        })
        { IsBackground = true, Name = name };
        thread.Start();
        while (!thread.Join(TimeSpan.FromMilliseconds(50)))
        {
            long started = Interlocked.Read(ref _started);
            if (started <= Idle) continue;
            var running = Stopwatch.GetElapsedTime(started);
            if (running < AbandonAfter || Interlocked.CompareExchange(ref _started, Abandoned, started) != started) continue;
            abandoned(Volatile.Read(ref _step), running);
            return false;
        }
        if (escaped is not null) throw new InvalidOperationException($"the fuzzing loop {name} threw: {escaped.Message}", escaped);
        return true;
    }
}
