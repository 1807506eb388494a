namespace Polynic.Core.Virtio;

/// <summary>
/// A thread of the device's own that processes virtqueues after the driver notified them, so the
/// thread that carried the notification (the vfio-user connection, whose region writes QEMU posts
/// without waiting for a reply) returns at once and reads the next message while the queue is
/// drained beside it. The processing callback runs under the device's lock, one queue at a time,
/// in queue order. <see cref="Notify"/> never waits: when the worker is idle and the lock free it
/// processes the queue on the notifying thread instead (a thread wake-up costs more than a short
/// drain), otherwise it only marks the queue and wakes the worker.
/// </summary>
/// <remarks>
/// <para>One worker per device, not per queue: all of a NIC's paths share its lock, so more threads
/// would only queue up on it, and on a small host they would take cores from the guest's vCPUs.</para>
/// <para>Lifecycle: created when the driver sets DRIVER_OK, stopped on device reset and on dispose.
/// <see cref="RequestStop"/> may be called with the device lock held (the reset path): it only flags
/// and wakes the thread, which ends without touching the queues again as soon as it sees the flag,
/// at the latest when it next takes the lock. <see cref="Dispose"/> also waits for it. An exception
/// from the callback ends the thread and is handed to the failure callback (the device reports it
/// through <c>IPciDeviceContext.ReportFailure</c>); it never reaches the server.</para>
/// </remarks>
public sealed class VirtqueueWorker : IDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly object _deviceLock;
    private readonly Action<int> _process;
    private readonly Action<int> _deferred;
    private readonly Action<Exception> _failed;
    private readonly Thread _thread;
    // No spinning before blocking: on a small host the spin would take a core from a vCPU.
    private readonly WakeSignal _wake = new();
    private readonly object _idle = new();
    private long _pending;
    private long _deferredSet;
    // When the deferred set is due, in Stopwatch ticks; long.MaxValue when nothing is deferred.
    private long _deferredDue = long.MaxValue;
    private int _busy;
    private volatile bool _stopping;

    /// <summary>
    /// Starts the worker thread. <paramref name="process"/> is called with <paramref name="deviceLock"/>
    /// held for each notified queue (index 0..63); <paramref name="failed"/> on the worker thread, without
    /// the lock, if it throws.
    /// </summary>
    public VirtqueueWorker(string name, object deviceLock, Action<int> process, Action<Exception> failed)
        : this(name, deviceLock, process, static _ => { }, failed)
    {
    }

    /// <summary>
    /// Starts the worker thread. <paramref name="process"/> is called with <paramref name="deviceLock"/>
    /// held for each notified queue (index 0..63), <paramref name="deferred"/> likewise for each queue
    /// whose <see cref="Defer"/> delay has passed; <paramref name="failed"/> on the worker thread,
    /// without the lock, if either throws.
    /// </summary>
    public VirtqueueWorker(string name, object deviceLock, Action<int> process, Action<int> deferred, Action<Exception> failed)
    {
        ArgumentNullException.ThrowIfNull(deviceLock);
        ArgumentNullException.ThrowIfNull(process);
        ArgumentNullException.ThrowIfNull(deferred);
        ArgumentNullException.ThrowIfNull(failed);
        _deviceLock = deviceLock;
        _process = process;
        _deferred = deferred;
        _failed = failed;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Queues above this index cannot be notified (the pending set is one 64-bit word).</summary>
    public const int MaxQueues = 64;

    /// <summary>Whether the thread is still alive.</summary>
    public bool IsRunning => _thread.IsAlive;

    /// <summary>
    /// The driver notified <paramref name="queue"/>: processes it here if the worker is idle and the
    /// device lock free (see <see cref="TryProcessHere"/>), else marks it and wakes the thread. Never
    /// waits for the lock. Out-of-range queues and notifications after a stop are ignored.
    /// </summary>
    public void Notify(int queue)
    {
        if ((uint)queue >= MaxQueues || _stopping) return;
        if (TryProcessHere(queue)) return;
        Interlocked.Or(ref _pending, 1L << queue);
        _wake.Set();
    }

    /// <summary>
    /// Processes <paramref name="queue"/> on the notifying thread when the worker is idle and the
    /// device lock is free: waking an idle thread costs about 100 µs on a small virtual host
    /// (docs/benchmarks.md, "Register round trips"), which every ping and the first frame of every
    /// burst would pay on top of the guest's own wait. A busy worker (a burst in progress) takes
    /// the notification as before, so the notifying thread goes back to its messages. The work
    /// done here is the same bounded drain the worker does, under the same lock.
    /// </summary>
    private bool TryProcessHere(int queue)
    {
        // Not nested inside something else the device does (the caller already holds its lock).
        if (Volatile.Read(ref _busy) != 0 || Interlocked.Read(ref _pending) != 0
            || Monitor.IsEntered(_deviceLock) || !Monitor.TryEnter(_deviceLock)) return false;
        Exception? failure = null;
        try
        {
            // A reset that stopped the worker also ends processing here.
            if (!_stopping) _process(queue);
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            Monitor.Exit(_deviceLock);
        }
        if (failure is not null)
        {
            // As on the worker: the failure ends the worker and goes to the device (without the
            // lock), never to the thread that carried the notification.
            _stopping = true;
            _wake.Set();
            _failed(failure);
        }
        return true;
    }

    /// <summary>
    /// Asks for the deferred callback to run for <paramref name="queue"/> once
    /// <paramref name="microseconds"/> have passed (or earlier, if another queue's deferral is due
    /// first: deferrals share one deadline, the earliest). Any thread, with or without the device lock.
    /// </summary>
    /// <remarks>
    /// What a device defers is work that may wait a little and usually becomes unnecessary meanwhile:
    /// e.g. a used-buffer interrupt the driver may no longer want once it has reclaimed the buffers
    /// itself (virtio 1.2, 2.7.10 lets the device choose when to notify).
    /// </remarks>
    public void Defer(int queue, int microseconds)
    {
        if ((uint)queue >= MaxQueues || _stopping) return;
        long due = System.Diagnostics.Stopwatch.GetTimestamp() + microseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        // Bounded: retried only while another thread moved the deadline meanwhile.
        long current;
        while (due < (current = Interlocked.Read(ref _deferredDue)) && Interlocked.CompareExchange(ref _deferredDue, due, current) != current)
        {
        }
        Interlocked.Or(ref _deferredSet, 1L << queue);
        if (Thread.CurrentThread != _thread) _wake.Set();
    }

    /// <summary>Asks the thread to end without waiting for it; safe with the device lock held.</summary>
    public void RequestStop()
    {
        _stopping = true;
        _wake.Set();
    }

    /// <summary>
    /// Waits until every notified queue was processed and the thread is idle (for tests and orderly
    /// shutdown); false on timeout. Must not be called with the device lock held.
    /// </summary>
    public bool WaitIdle(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_idle)
        {
            while (IsRunning && (Interlocked.Read(ref _pending) != 0 || Interlocked.Read(ref _deferredSet) != 0 || Volatile.Read(ref _busy) != 0))
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) return false;
                Monitor.Wait(_idle, (int)Math.Min(left, 50));
            }
        }
        return true;
    }

    /// <summary>Stops the thread and waits for it (unless called on it). Must not be called with the device lock held.</summary>
    public void Dispose()
    {
        RequestStop();
        if (Thread.CurrentThread != _thread) _thread.Join(StopTimeout);
    }

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                _wake.Wait(MicrosecondsToDeadline());
                // Busy before taking the sets, so WaitIdle never sees "nothing pending, not busy"
                // while taken work is in flight.
                Volatile.Write(ref _busy, 1);
                long pending = Interlocked.Exchange(ref _pending, 0);
                long due = TakeDueDeferrals();
                if ((pending | due) != 0 && !_stopping) Process(pending, due);
                Volatile.Write(ref _busy, 0);
                lock (_idle) Monitor.PulseAll(_idle);
            }
        }
        catch (Exception e)
        {
            _stopping = true;
            Volatile.Write(ref _busy, 0);
            _failed(e);
        }
        finally
        {
            // The thread owns the eventfd: a worker stopped by a device reset is never disposed.
            // Later Notify/Defer calls find it closed and do nothing.
            _wake.Dispose();
            lock (_idle) Monitor.PulseAll(_idle);
        }
    }

    /// <summary>How long to sleep: until the deferred work is due, or indefinitely (-1) when there is none.</summary>
    private long MicrosecondsToDeadline()
    {
        if (Interlocked.Read(ref _deferredSet) == 0) return -1;
        long left = Interlocked.Read(ref _deferredDue) - System.Diagnostics.Stopwatch.GetTimestamp();
        // A deadline lost to a race with TakeDueDeferrals (set bits, no deadline) counts as due.
        if (left <= 0 || Interlocked.Read(ref _deferredDue) == long.MaxValue) return 0;
        return left * 1_000_000 / System.Diagnostics.Stopwatch.Frequency;
    }

    private long TakeDueDeferrals()
    {
        if (Interlocked.Read(ref _deferredSet) == 0) return 0;
        long due = Interlocked.Read(ref _deferredDue);
        if (due != long.MaxValue && System.Diagnostics.Stopwatch.GetTimestamp() < due) return 0;
        Interlocked.Exchange(ref _deferredDue, long.MaxValue);
        return Interlocked.Exchange(ref _deferredSet, 0);
    }

    private void Process(long pending, long due)
    {
        lock (_deviceLock)
        {
            // A reset that happened while this thread waited for the lock stopped it: the queues
            // it was told about belong to a driver that is gone.
            if (_stopping) return;
            // Bounded: at most 64 bits each, each cleared once.
            while (pending != 0)
            {
                int queue = System.Numerics.BitOperations.TrailingZeroCount(pending);
                pending &= pending - 1;
                _process(queue);
            }
            while (due != 0)
            {
                int queue = System.Numerics.BitOperations.TrailingZeroCount(due);
                due &= due - 1;
                _deferred(queue);
            }
        }
    }
}
