using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;

namespace Polynic.Ports.Sockets;

/// <summary>
/// A port that speaks QEMU's <c>-netdev stream</c>: Ethernet frames over a TCP (IPv4/IPv6) or
/// UNIX stream socket, each preceded by its length as 4 big-endian bytes (<see cref="QemuStreamFraming"/>).
/// A NIC on this port and a NIC that QEMU emulates on the other end share one Ethernet segment.
/// </summary>
/// <remarks>
/// <para>As a server (<see cref="StreamPortOptions.Server"/>) the port listens from
/// <see cref="Open"/> on, serves one peer at a time and accepts the next when it leaves, like
/// QEMU's server=on; as a client it connects when started and, with
/// <see cref="StreamPortOptions.Reconnect"/>, tries again after a failure or a lost connection,
/// like QEMU's reconnect-ms. The link is up exactly while a peer is connected; every change is
/// reported through <see cref="IPortReceiver.LinkChanged"/> on the port's thread, and every loss
/// is logged once with its reason.</para>
/// <para>Sending never blocks: one non-blocking sendmsg per frame (no copy); what the socket cannot
/// take waits in a fixed backlog (<see cref="StreamPortOptions.SendBacklogBytes"/>) that the port's
/// thread flushes, and a frame that does not fit is dropped and counted. Receiving runs on the
/// port's thread with one preallocated buffer; a peer announcing a frame longer than
/// <see cref="StreamPortOptions.MaxFrameLength"/> is cut off (QEMU does the same) and counted in
/// <see cref="StreamPortCounters.ProtocolErrors"/>. Nothing is allocated per frame.</para>
/// <para>Frames carry no virtio-net header, so the port accepts complete frames only
/// (<see cref="PortCapabilities.None"/>).</para>
/// </remarks>
public sealed class StreamPort : IPort
{
    private const int EthernetHeaderLength = 14;

    private readonly StreamPortOptions _options;
    private readonly ILogger _logger;
    private readonly Socket? _listener;
    private readonly string? _socketPathToRemove;
    private readonly Lock _lifecycle = new();
    private readonly Lock _sendGate = new();
    private readonly StreamSendQueue _sendQueue;
    private Socket? _peer;
    private StreamIoThread? _io;
    private volatile EndPoint? _peerEndPoint;
    private volatile bool _linkUp;
    private volatile bool _disposed;

    private StreamPort(StreamPortOptions options, Socket? listener, string? socketPathToRemove, ILogger logger)
    {
        _options = options;
        _listener = listener;
        _socketPathToRemove = socketPathToRemove;
        _logger = logger;
        _sendQueue = new StreamSendQueue(options.SendBacklogBytes);
        LocalEndPoint = listener?.LocalEndPoint;
        Name = (options.Server ? "stream-server:" : "stream-client:") + SocketAddressText.Describe(LocalEndPoint ?? options.Address);
    }

    /// <summary>
    /// Creates the port. A server binds and listens at once (so a listening address or port 0's
    /// choice is known from <see cref="LocalEndPoint"/>, and connections queue until
    /// <see cref="Start"/>); a client connects only when started.
    /// </summary>
    /// <param name="options">Address, server or client, reconnect interval, backlog and frame limits.</param>
    /// <param name="logger">Receives connection, link-down and fault events; none if null.</param>
    /// <returns>The port, link down until a peer is connected.</returns>
    /// <exception cref="ArgumentException">The options are inconsistent (the message says which).</exception>
    /// <exception cref="PortOpenException">The server could not bind or listen (address in use, permission, ...).</exception>
    public static StreamPort Open(StreamPortOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        logger ??= NullLogger.Instance;
        Socket? listener = null;
        string? socketPath = null;
        if (options.Server)
        {
            socketPath = SocketAddressText.UnixPath(options.Address);
            listener = Listen(options.Address, socketPath);
        }
        var port = new StreamPort(options, listener, socketPath, logger);
        SocketLog.Opened(logger, port.Name, options.Server
            ? "listening for one peer at a time"
            : options.Reconnect > TimeSpan.Zero ? $"client, reconnect every {options.Reconnect.TotalMilliseconds:0} ms" : "client, no reconnect");
        return port;
    }

    /// <inheritdoc/>
    /// <remarks>"stream-server:ADDRESS" or "stream-client:ADDRESS".</remarks>
    public string Name { get; }

    /// <summary>Whether the port listens (true) or connects (false).</summary>
    public bool IsServer => _options.Server;

    /// <summary>The server's bound address (with the port chosen for port 0); null for a client.</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>The connected peer's address, or null while none is connected.</summary>
    public EndPoint? PeerEndPoint => _peerEndPoint;

    /// <summary>Frames, bytes and failures in both directions.</summary>
    public PortCounters Counters { get; } = new();

    /// <summary>Connections, protocol errors and backlog behaviour.</summary>
    public StreamPortCounters StreamCounters { get; } = new();

    /// <inheritdoc/>
    /// <remarks>True exactly while a peer is connected.</remarks>
    public bool LinkUp => _linkUp;

    /// <inheritdoc/>
    /// <remarks>Always <see cref="PortCapabilities.None"/>: QEMU's stream framing carries complete frames.</remarks>
    public PortCapabilities Capabilities => PortCapabilities.None;

    /// <summary>Whether the port's thread runs (for tests: it must be gone after Dispose).</summary>
    internal bool IsRunning => _io?.IsRunning ?? false;

    /// <inheritdoc/>
    /// <remarks>
    /// Starts the port's thread, which accepts or connects, delivers frames and link changes one at
    /// a time, and flushes the send backlog. A receiver that throws loses that frame (counted,
    /// logged once); the thread goes on.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    /// <exception cref="ObjectDisposedException">The port was disposed.</exception>
    public void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_io is not null) throw new InvalidOperationException($"{Name} is already started.");
            var guard = new ReceiverGuard(Name, receiver, Counters, _logger);
            _io = new StreamIoThread(this, _options, _listener, guard, Counters, StreamCounters, _logger);
            _io.Start();
        }
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> frame) => Send(frame, default);

    /// <inheritdoc/>
    /// <remarks>
    /// Returns false (and counts) when no peer is connected, the frame is shorter than an Ethernet
    /// header or longer than <see cref="StreamPortOptions.MaxFrameLength"/>, an offload is asked
    /// for, or the socket and backlog are full. Never blocks.
    /// </remarks>
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!_linkUp || offload.NeedsChecksum || offload.GsoType != GsoType.None
            || frame.Length < EthernetHeaderLength || frame.Length > _options.MaxFrameLength)
        {
            Counters.CountSendFailure();
            return false;
        }

        StreamSendResult result;
        lock (_sendGate)
        {
            if (_peer is not { } peer || !SocketCalls.TryLease(peer, out var lease))
            {
                Counters.CountSendFailure();
                return false;
            }
            using (lease) result = _sendQueue.Send(lease.Number, frame, out _);
        }

        switch (result)
        {
            case StreamSendResult.Sent:
                break;
            case StreamSendResult.QueuedFirst:
                // The thread polls for POLLOUT only while a backlog exists: tell it one does now.
                StreamCounters.CountBackloggedSend();
                _io?.Wake();
                break;
            case StreamSendResult.Queued:
                StreamCounters.CountBackloggedSend();
                break;
            case StreamSendResult.Full:
                StreamCounters.CountBacklogDrop();
                Counters.CountSendFailure();
                return false;
            default:
                // The peer is gone; the port's thread sees the same error and reports link-down.
                Counters.CountSendFailure();
                return false;
        }
        Counters.CountSent(frame.Length);
        return true;
    }

    /// <summary>
    /// Stops the port's thread, closes the connection and the listening socket, and removes the
    /// UNIX socket file a server created. No link change is reported for the port's own disposal.
    /// </summary>
    public void Dispose()
    {
        StreamIoThread? io;
        lock (_lifecycle)
        {
            if (_disposed) return;
            _disposed = true;
            io = _io;
        }
        io?.Stop();
        Socket? peer;
        lock (_sendGate)
        {
            peer = _peer;
            _peer = null;
            _peerEndPoint = null;
            _linkUp = false;
            _sendQueue.Reset();
        }
        peer?.Dispose();
        _listener?.Dispose();
        SocketAddressText.RemoveStaleSocket(_socketPathToRemove);
    }

    /// <summary>The port's thread has a peer: frames may flow.</summary>
    internal void Attach(Socket peer)
    {
        lock (_sendGate)
        {
            _sendQueue.Reset();
            _peer = peer;
            _peerEndPoint = SafeRemoteEndPoint(peer);
            _linkUp = true;
        }
    }

    /// <summary>The port's thread lost its peer; the socket is closed here.</summary>
    internal void Detach(Socket peer)
    {
        lock (_sendGate)
        {
            if (ReferenceEquals(_peer, peer))
            {
                _peer = null;
                _peerEndPoint = null;
                _linkUp = false;
                _sendQueue.Reset();
            }
        }
        peer.Dispose();
    }

    /// <summary>Whether frames wait for the socket to become writable.</summary>
    internal bool HasBacklog
    {
        get
        {
            lock (_sendGate) return _sendQueue.Backlog > 0;
        }
    }

    /// <summary>Writes what the socket takes of the backlog; 0 or the errno of a failed write.</summary>
    internal int FlushBacklog(int fd)
    {
        lock (_sendGate) return _sendQueue.Flush(fd);
    }

    private static Socket Listen(EndPoint address, string? socketPath)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, SocketAddressText.Protocol(address, SocketType.Stream));
        try
        {
            if (address is IPEndPoint) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            SocketAddressText.RemoveStaleSocket(socketPath);
            socket.Bind(address);
            socket.Listen(4);
            // Accepts happen after poll() says ready; a peer that vanished in between must not block the thread.
            socket.Blocking = false;
            return socket;
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            throw new PortOpenException(
                $"cannot listen on {SocketAddressText.Describe(address)}: {exception.Message} ({exception.SocketErrorCode}).",
                exception.ErrorCode);
        }
    }

    private static EndPoint? SafeRemoteEndPoint(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
