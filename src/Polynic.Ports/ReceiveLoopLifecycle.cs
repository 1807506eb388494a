namespace Polynic.Ports;

/// <summary>
/// The start-once, dispose-once life of a port that owns a <see cref="PollingReceiveLoop"/>
/// (the tap and the datagram socket): the loop is created and started at most once, disposal
/// marks the link down and stops the loop exactly once, and a lost link is reported once.
/// </summary>
internal sealed class ReceiveLoopLifecycle(object owner, string name)
{
    private readonly Lock _gate = new();
    private PollingReceiveLoop? _loop;
    private volatile bool _linkUp = true;
    private volatile bool _disposed;
    private int _linkDownReported;

    /// <summary>Whether frames may be sent: not disposed and the link not lost.</summary>
    public bool LinkUp => _linkUp;

    /// <summary>Whether the port has been disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Whether the receive thread runs.</summary>
    public bool IsReceiving => _loop?.IsRunning ?? false;

    /// <summary>Creates the loop with <paramref name="create"/> (under the lifecycle lock) and starts it.</summary>
    /// <exception cref="ObjectDisposedException">The port was disposed.</exception>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    public void Start(Func<PollingReceiveLoop> create)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, owner);
            if (_loop is not null) throw new InvalidOperationException($"{name} is already started.");
            _loop = create();
            _loop.Start();
        }
    }

    /// <summary>Marks the link lost; true only the first time, so the caller logs it once.</summary>
    public bool MarkLinkDown()
    {
        _linkUp = false;
        return Interlocked.Exchange(ref _linkDownReported, 1) == 0;
    }

    /// <summary>
    /// Marks the port disposed and its link down and stops the receive thread; false if it was
    /// already disposed (the caller then releases nothing).
    /// </summary>
    public bool Dispose()
    {
        PollingReceiveLoop? loop;
        lock (_gate)
        {
            if (_disposed) return false;
            _disposed = true;
            _linkUp = false;
            loop = _loop;
        }
        loop?.Stop();
        return true;
    }
}
