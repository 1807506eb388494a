namespace Polynic.Ports.Loopback;

/// <summary>
/// Two connected in-memory ports, like a cable between two NICs: what <see cref="A"/> sends,
/// <see cref="B"/>'s receiver gets, and the other way round. For unit tests and the in-process
/// test machine; no operating system resources except, with
/// <see cref="LoopbackDelivery.Queued"/>, one delivery thread per started end.
/// </summary>
public sealed class PortPair : IDisposable
{
    private readonly object _gate = new();
    private volatile bool _connected = true;

    /// <summary>Creates the pair, connected; <paramref name="options"/> null means the defaults.</summary>
    public PortPair(PortPairOptions? options = null)
    {
        options ??= new PortPairOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.QueueCapacity);
        A = new LoopbackPort(this, $"{options.Name}:a", options.CapabilitiesA, options);
        B = new LoopbackPort(this, $"{options.Name}:b", options.CapabilitiesB, options);
        A.Peer = B;
        B.Peer = A;
    }

    /// <summary>One end.</summary>
    public LoopbackPort A { get; }

    /// <summary>The other end.</summary>
    public LoopbackPort B { get; }

    /// <summary>Whether the cable is plugged in (see <see cref="Disconnect"/>).</summary>
    public bool Connected => _connected;

    /// <summary>Pulls the cable: both ends go link-down and their receivers hear LinkChanged(false).</summary>
    public void Disconnect() => SetConnected(false);

    /// <summary>Plugs the cable back in: both ends hear LinkChanged(true).</summary>
    public void Connect() => SetConnected(true);

    /// <summary>Disposes both ends.</summary>
    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }

    internal void OnEndDisposed(LoopbackPort end)
    {
        // The peer leaving is a link-down for the end that stays.
        if (_connected) end.Peer.NotifyLink(false);
    }

    private void SetConnected(bool connected)
    {
        lock (_gate)
        {
            if (_connected == connected) return;
            _connected = connected;
        }
        if (A.IsDisposed || B.IsDisposed) return;
        A.NotifyLink(connected);
        B.NotifyLink(connected);
    }
}
