using System.Threading.Channels;

namespace Polynic.Management.Hosting;

/// <summary>Kinds of <see cref="ServerEvent"/>, as their names appear on the event stream.</summary>
public static class ServerEventTypes
{
    public const string NicAdded = "nic-added";
    public const string NicRemoved = "nic-removed";
    public const string NicFailed = "nic-failed";
    public const string VmmConnected = "vmm-connected";
    public const string VmmDisconnected = "vmm-disconnected";
    public const string LinkChanged = "link-changed";
    public const string ModuleLoaded = "module-loaded";
    public const string ModuleUnloaded = "module-unloaded";
    public const string CaptureStarted = "capture-started";
    public const string CaptureStopped = "capture-stopped";
}

/// <summary>Something that changed in the server.</summary>
/// <param name="Type">One of <see cref="ServerEventTypes"/>.</param>
/// <param name="Time">When the server saw it.</param>
/// <param name="Nic">The NIC concerned, if any.</param>
/// <param name="Module">The module concerned, if any.</param>
/// <param name="Capture">The capture concerned, if any.</param>
/// <param name="Detail">What a person reading the log wants to know (link "up"/"down", a failure's reason).</param>
public sealed record ServerEvent(string Type, DateTimeOffset Time, string? Nic = null, string? Module = null, string? Capture = null, string? Detail = null);

/// <summary>
/// The server's changes as a stream any number of readers follow (the HTTP API's event stream).
/// Publishing never waits: each reader has a bounded queue, and a reader that falls behind loses
/// its oldest events, never slowing the server or another reader.
/// </summary>
public sealed class ServerEvents
{
    /// <summary>Events a reader's queue holds before the oldest are dropped.</summary>
    public const int QueueCapacity = 256;

    /// <summary>Readers at once; more are refused (each holds a queue and, over HTTP, a connection).</summary>
    public const int MaxSubscribers = 64;

    private readonly Lock _gate = new();
    private Subscription[] _subscribers = [];

    /// <summary>Hands <paramref name="e"/> to every reader; never blocks.</summary>
    public void Publish(ServerEvent e)
    {
        foreach (var s in Volatile.Read(ref _subscribers)) s.Offer(e);
    }

    /// <summary>Starts following; dispose the subscription to stop.</summary>
    /// <exception cref="InvalidOperationException">Already <see cref="MaxSubscribers"/> readers.</exception>
    public Subscription Subscribe()
    {
        lock (_gate)
        {
            if (_subscribers.Length >= MaxSubscribers)
                throw new InvalidOperationException($"{MaxSubscribers} event streams are open already; close one first");
            var s = new Subscription(this);
            _subscribers = [.. _subscribers, s];
            return s;
        }
    }

    private void Remove(Subscription s)
    {
        lock (_gate) _subscribers = [.. _subscribers.Where(x => x != s)];
    }

    /// <summary>One reader's queue of events.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly ServerEvents _owner;
        private readonly Channel<ServerEvent> _queue;

        internal Subscription(ServerEvents owner)
        {
            _owner = owner;
            _queue = Channel.CreateBounded<ServerEvent>(new BoundedChannelOptions(QueueCapacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
            });
        }

        /// <summary>The events, in the order they were published.</summary>
        public ChannelReader<ServerEvent> Reader => _queue.Reader;

        internal void Offer(ServerEvent e) => _queue.Writer.TryWrite(e);

        /// <summary>Stops following.</summary>
        public void Dispose()
        {
            _owner.Remove(this);
            _queue.Writer.TryComplete();
        }
    }
}
