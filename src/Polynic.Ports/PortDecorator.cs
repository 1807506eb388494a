using Polynic.Core.Nic;

namespace Polynic.Ports;

/// <summary>
/// A port that wraps another port and sits between it and the NIC: it is the NIC's
/// <see cref="IPort"/> and the inner port's <see cref="IPortReceiver"/>. By default every call
/// passes straight through, so a decorator overrides only the path it changes (capture records
/// both directions, fault injection drops, delays and corrupts). Decorators stack on any port:
/// tap, socket, switch port or another decorator.
/// </summary>
/// <remarks>
/// <see cref="Receive(ReadOnlySpan{byte})"/> and <see cref="LinkChanged"/> run on the inner port's thread;
/// <see cref="Send(ReadOnlySpan{byte})"/> runs on the NIC's thread, usually with the NIC's
/// device lock held, so an override must not block on anything a receive callback can hold.
/// </remarks>
public abstract class PortDecorator : IPort, IPortReceiver
{
    private readonly bool _ownsInner;
    private volatile IPortReceiver? _receiver;
    private int _disposed;

    /// <summary>Wraps <paramref name="inner"/>; with <paramref name="ownsInner"/> disposing the decorator disposes it too.</summary>
    protected PortDecorator(IPort inner, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
        _ownsInner = ownsInner;
    }

    /// <summary>The wrapped port.</summary>
    public IPort Inner { get; }

    /// <summary>The NIC's receiver once <see cref="Start"/> ran; null before.</summary>
    protected IPortReceiver? Receiver => _receiver;

    /// <summary>Whether <see cref="Dispose()"/> ran.</summary>
    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc/>
    /// <remarks>The inner port's name: counters and logs keep naming the real port.</remarks>
    public virtual string Name => Inner.Name;

    /// <inheritdoc/>
    public virtual bool LinkUp => Inner.LinkUp;

    /// <inheritdoc/>
    public virtual PortCapabilities Capabilities => Inner.Capabilities;

    /// <inheritdoc/>
    /// <remarks>Starts the inner port with this decorator as its receiver.</remarks>
    /// <exception cref="InvalidOperationException">The decorator was already started.</exception>
    /// <exception cref="ObjectDisposedException">The decorator was disposed.</exception>
    public virtual void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (Interlocked.CompareExchange(ref _receiver, receiver, null) is not null)
            throw new InvalidOperationException($"{Name} is already started.");
        Inner.Start(this);
    }

    /// <inheritdoc/>
    public virtual bool Send(ReadOnlySpan<byte> frame) => Inner.Send(frame);

    /// <inheritdoc/>
    public virtual bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) => Inner.Send(frame, offload);

    /// <inheritdoc/>
    /// <remarks>Called by the inner port; passes the frame to the NIC.</remarks>
    public virtual void Receive(ReadOnlySpan<byte> frame) => _receiver?.Receive(frame);

    /// <inheritdoc/>
    /// <remarks>The NIC's: a decorator that passes frames through takes what the NIC takes.</remarks>
    public virtual PortCapabilities ReceiveCapabilities => _receiver?.ReceiveCapabilities ?? PortCapabilities.None;

    /// <inheritdoc/>
    /// <remarks>Called by the inner port; passes the frame and its offload to the NIC.</remarks>
    public virtual void Receive(ReadOnlySpan<byte> frame, in FrameOffload offload) => _receiver?.Receive(frame, offload);

    /// <inheritdoc/>
    /// <remarks>Called by the inner port; passes the change to the NIC.</remarks>
    public virtual void LinkChanged(bool up) => _receiver?.LinkChanged(up);

    /// <summary>Disposes the decorator and, if it owns it, the inner port.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Releases what the decorator holds; the base disposes the inner port if owned. An override
    /// stops its own work first, then calls the base. Runs once.
    /// </summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing && _ownsInner) Inner.Dispose();
    }
}
