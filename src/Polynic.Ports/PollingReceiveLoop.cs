using Microsoft.Extensions.Logging;
using Polynic.Native;

namespace Polynic.Ports;

/// <summary>
/// A port's receive thread: poll() on the port's descriptor and a wake-up eventfd, then read until
/// EAGAIN into one preallocated pinned buffer and hand each frame on. Nothing is allocated per
/// frame. A subclass leases its descriptor, says what a poll result means, performs the read
/// syscall and checks and delivers what was read. The thread ends when stopped or when the
/// descriptor fails for good.
/// </summary>
internal abstract unsafe class PollingReceiveLoop
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly Action<string> _linkLost;
    private readonly Action<ILogger, string, int> _logStuck;
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly Thread _thread;
    private volatile bool _stopping;

    /// <summary>
    /// Prepares the thread and a pinned buffer of <paramref name="bufferSize"/> bytes;
    /// <paramref name="linkLost"/> is called once on the thread with the reason the descriptor
    /// became unusable (not when stopped); <paramref name="logStuck"/> reports a thread that did
    /// not stop in time.
    /// </summary>
    protected PollingReceiveLoop(string portName, int bufferSize, PortCounters counters, ILogger logger,
        Action<string> linkLost, Action<ILogger, string, int> logStuck)
    {
        PortName = portName;
        Counters = counters;
        Logger = logger;
        _linkLost = linkLost;
        _logStuck = logStuck;
        Buffer = GC.AllocateUninitializedArray<byte>(bufferSize, pinned: true);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{portName} receive" };
    }

    protected string PortName { get; }

    protected PortCounters Counters { get; }

    protected ILogger Logger { get; }

    /// <summary>The receive buffer, allocated pinned (so its address never changes).</summary>
    protected byte[] Buffer { get; }

    /// <summary>Whether the receive thread is still running.</summary>
    public bool IsRunning => _thread.IsAlive;

    public void Start() => _thread.Start();

    /// <summary>Stops the thread and waits for it, unless called from a receiver callback on that thread.</summary>
    public void Stop()
    {
        _stopping = true;
        EventFd.Signal(_wake);
        if (Thread.CurrentThread != _thread && _thread.IsAlive && !_thread.Join(StopTimeout))
            _logStuck(Logger, PortName, (int)StopTimeout.TotalSeconds);
        // The wake descriptor is leased by the thread while it runs, so disposing it here is safe.
        _wake.Dispose();
    }

    /// <summary>The thread's body: leases the port's descriptor and, while holding it, calls <see cref="Pump"/>.</summary>
    protected abstract void Run();

    /// <summary>What a poll result on the descriptor means; usually calls <see cref="Drain"/>.</summary>
    /// <returns>null to keep polling; otherwise why the descriptor can no longer be used.</returns>
    protected abstract string? OnPolled(int fd, short events);

    /// <summary>One read syscall into <see cref="Buffer"/>.</summary>
    /// <returns>The byte count read, or minus the errno.</returns>
    protected abstract nint Read(int fd, byte* buffer);

    /// <summary>A failed read other than EAGAIN.</summary>
    /// <returns>null to keep reading; otherwise why the descriptor can no longer be used.</returns>
    protected abstract string? OnReadFailed(int errno);

    /// <summary>Checks and delivers the <paramref name="length"/> bytes read into <see cref="Buffer"/>.</summary>
    protected abstract void Deliver(byte* buffer, int length);

    /// <summary>Polls <paramref name="fd"/> until stopped or lost, then reports a loss.</summary>
    protected void Pump(int fd)
    {
        if (!_wake.TryLease(out var wake)) return;
        string? lost;
        using (wake) lost = Poll(fd, wake.Number);
        if (lost is not null && !_stopping) _linkLost(lost);
    }

    /// <summary>Reads until EAGAIN (or until stopped), delivering each read.</summary>
    /// <returns>null when drained or stopped; otherwise why the descriptor can no longer be used.</returns>
    protected string? Drain(int fd)
    {
        fixed (byte* buffer = Buffer)
        {
            while (!_stopping)
            {
                nint read = Read(fd, buffer);
                if (read == -Errno.EAGAIN) return null;
                if (read < 0)
                {
                    if (OnReadFailed((int)-read) is { } failure) return failure;
                    continue;
                }
                Deliver(buffer, (int)read);
            }
            return null;
        }
    }

    /// <returns>null when stopped; otherwise why the descriptor can no longer be used.</returns>
    private string? Poll(int fd, int wake)
    {
        while (!_stopping)
        {
            int errno = Native.Poll.Wait(fd, wake, -1, out short events, out bool woken);
            if (errno != 0) return $"poll failed: {Errno.Describe(errno)}";
            if (woken) return null;
            if (OnPolled(fd, events) is { } failure) return failure;
        }
        return null;
    }
}
