using Microsoft.Extensions.Logging;
using Polynic.Native;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// Writes a session's interrupt eventfds on a thread of its own, so that raising an interrupt
/// never blocks the device. The eventfds are the client's: it may hand over one opened without
/// EFD_NONBLOCK (or clear O_NONBLOCK later; the flag belongs to the open file, which the client
/// shares) and fill its counter to the maximum, and then a write(2) blocks until someone reads.
/// A device raises interrupts holding its own lock, which the socket reader needs for every
/// register access, so a blocking write there would wedge the session, its disposal and every
/// thread waiting on them. Here a blocked write costs only this session's interrupts.
/// </summary>
/// <remarks>
/// Posting an interrupt sets its line's bit and wakes the thread; lines posted again before the
/// thread gets to them are written once, which is all an eventfd can say (its reader sees "at
/// least one"). Nothing is allocated per interrupt.
/// </remarks>
internal sealed class InterruptSignaller : IDisposable
{
    private static readonly TimeSpan StopWait = TimeSpan.FromMilliseconds(500);

    private readonly Func<int, FileDescriptor?> _eventFdOf;
    private readonly ILogger _log;
    private readonly string _name;
    private readonly long[] _pending;
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly Thread _thread;
    private int _wakeRequested;
    private volatile bool _stopping;
    private volatile FileDescriptor? _writing;
    private long _signalled;

    /// <param name="lines">How many interrupt lines (eventfd slots) may be posted.</param>
    /// <param name="eventFdOf">The eventfd a line has at the moment of writing, or null.</param>
    /// <param name="name">The function's name, for the thread and logs.</param>
    /// <param name="log">Where the abandonment of a stuck write is reported.</param>
    public InterruptSignaller(int lines, Func<int, FileDescriptor?> eventFdOf, string name, ILogger log)
    {
        _eventFdOf = eventFdOf;
        _name = name;
        _log = log;
        _pending = new long[Math.Max(1, (lines + 63) / 64)];
        _thread = new Thread(Run) { IsBackground = true, Name = $"{name} interrupts" };
        _thread.Start();
    }

    /// <summary>Eventfd writes made so far.</summary>
    public long SignalledCount => Interlocked.Read(ref _signalled);

    /// <summary>Has <paramref name="line"/>'s eventfd written soon; never blocks.</summary>
    public void Post(int line)
    {
        Interlocked.Or(ref _pending[line >> 6], 1L << (line & 63));
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0) EventFd.Signal(_wake);
    }

    /// <summary>
    /// Stops the thread. A write still blocked in a client's eventfd is released by draining that
    /// eventfd (the session is over, so nobody needs its count); if the client keeps it blocked
    /// even so, the thread is left behind, holding nothing but its own leases.
    /// </summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        EventFd.Signal(_wake);
        if (!_thread.Join(StopWait))
        {
            if (_writing is { } stuck) Unblock(stuck);
            if (!_thread.Join(StopWait))
            {
                _log.LogWarning("{Function}: an interrupt eventfd write stays blocked by the client; its thread is abandoned", _name);
                return;
            }
        }
        _wake.Dispose();
    }

    private void Run()
    {
        while (!_stopping)
        {
            Poll.WaitReadable(_wake, null, -1);
            EventFd.Drain(_wake);
            // Reset before scanning: a Post after this point sees 0 and wakes the thread again.
            Interlocked.Exchange(ref _wakeRequested, 0);
            for (int word = 0; word < _pending.Length && !_stopping; word++)
            {
                long bits = Interlocked.Exchange(ref _pending[word], 0);
                while (bits != 0 && !_stopping)
                {
                    int bit = System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    Write(word * 64 + bit);
                }
            }
        }
    }

    private void Write(int line)
    {
        var fd = _eventFdOf(line);
        if (fd is null) return;
        _writing = fd;
        try
        {
            if (EventFd.Signal(fd)) Interlocked.Increment(ref _signalled);
        }
        finally
        {
            _writing = null;
        }
    }

    /// <summary>Reads the client's eventfd without blocking, which lets a blocked write finish.</summary>
    private static unsafe void Unblock(FileDescriptor eventFd)
    {
        if (!eventFd.TryLease(out var lease)) return;
        using (lease)
        {
            int flags = LibC.fcntl(eventFd, LibC.F_GETFL, 0);
            if (flags >= 0) LibC.fcntl(eventFd, LibC.F_SETFL, flags | LibC.O_NONBLOCK);
            ulong value;
            LibC.read(lease.Number, &value, sizeof(ulong));
        }
    }
}
