using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Native;

namespace Polynic.Ports.Sockets;

/// <summary>
/// A port that speaks QEMU's <c>-netdev dgram</c>: each Ethernet frame is one UDP or UNIX
/// datagram, with nothing in front (net/dgram.c sends the frame as is). Unicast pairs one port
/// with one peer; multicast puts every member of a group on one shared segment.
/// </summary>
/// <remarks>
/// <para>The link is up from <see cref="Open"/> (once bound) until the port is disposed or its
/// socket fails; there is no connection, so a peer that is not there simply does not answer.
/// Sending is one non-blocking sendto per frame: a full socket buffer drops the frame (counted),
/// never blocks. Receiving runs on the port's thread with one preallocated buffer; datagrams
/// shorter than an Ethernet header or longer than <see cref="DgramPortOptions.MaxFrameLength"/>
/// are dropped and counted. Frames are accepted from any sender, as QEMU does.</para>
/// <para>In multicast mode the socket has IP_MULTICAST_LOOP on (so members on the same host hear
/// each other, as QEMU requires), which means the port also hears its own frames, exactly as a
/// QEMU NIC on a multicast netdev does.</para>
/// </remarks>
public sealed class DgramPort : IPort
{
    private const int EthernetHeaderLength = 14;

    private readonly Socket _socket;
    private readonly byte[] _destination;
    private readonly int _maxFrameLength;
    private readonly string? _socketPathToRemove;
    private readonly ILogger _logger;
    private readonly ReceiveLoopLifecycle _lifecycle;

    private DgramPort(Socket socket, DgramPortOptions options, string? socketPathToRemove, ILogger logger)
    {
        _socket = socket;
        _maxFrameLength = options.MaxFrameLength;
        _socketPathToRemove = socketPathToRemove;
        _logger = logger;
        var address = options.Remote.Serialize();
        _destination = address.Buffer.Span[..address.Size].ToArray();
        IsMulticast = options.IsMulticast;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = options.Remote;
        Name = IsMulticast
            ? $"dgram:mcast:{SocketAddressText.Describe(options.Remote)}"
            : $"dgram:{SocketAddressText.Describe(LocalEndPoint)}->{SocketAddressText.Describe(options.Remote)}";
        _lifecycle = new ReceiveLoopLifecycle(this, Name);
    }

    /// <summary>Creates the socket, binds it (and joins the group in multicast mode); the link is up from here on.</summary>
    /// <param name="options">Local and remote addresses, multicast TTL, frame limit.</param>
    /// <param name="logger">Receives the open, link-down and fault events; none if null.</param>
    /// <returns>The port, link up, not yet delivering frames (call <see cref="Start"/>).</returns>
    /// <exception cref="ArgumentException">The options are inconsistent (the message says which).</exception>
    /// <exception cref="PortOpenException">Binding or joining failed (address in use, no such interface, ...).</exception>
    public static DgramPort Open(DgramPortOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        logger ??= NullLogger.Instance;
        var family = options.Remote.AddressFamily;
        var socket = new Socket(family, SocketType.Dgram, SocketAddressText.Protocol(options.Remote, SocketType.Dgram));
        string? socketPath = null;
        string step = "bind";
        try
        {
            if (options.IsMulticast)
            {
                step = "join the multicast group";
                JoinGroup(socket, options);
            }
            else
            {
                // QEMU sets SO_REUSEADDR on UDP (socket_set_fast_reuse) and unlinks the UNIX path first.
                if (options.Local is IPEndPoint) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socketPath = SocketAddressText.UnixPath(options.Local!);
                SocketAddressText.RemoveStaleSocket(socketPath);
                socket.Bind(options.Local!);
            }
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            throw new PortOpenException(
                $"cannot {step} for dgram {SocketAddressText.Describe(options.Local)} -> {SocketAddressText.Describe(options.Remote)}: " +
                $"{exception.Message} ({exception.SocketErrorCode}).", exception.ErrorCode);
        }
        var port = new DgramPort(socket, options, socketPath, logger);
        SocketLog.Opened(logger, port.Name, options.IsMulticast ? "multicast group member" : "unicast");
        return port;
    }

    /// <inheritdoc/>
    /// <remarks>"dgram:LOCAL->REMOTE", or "dgram:mcast:GROUP:PORT".</remarks>
    public string Name { get; }

    /// <summary>Whether the port is a multicast group member.</summary>
    public bool IsMulticast { get; }

    /// <summary>The bound address (with the port chosen for port 0).</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>Where frames go.</summary>
    public EndPoint RemoteEndPoint { get; }

    /// <summary>Frames, bytes and failures in both directions.</summary>
    public PortCounters Counters { get; } = new();

    /// <inheritdoc/>
    public bool LinkUp => _lifecycle.LinkUp;

    /// <inheritdoc/>
    /// <remarks>Always <see cref="PortCapabilities.None"/>: datagrams carry complete frames.</remarks>
    public PortCapabilities Capabilities => PortCapabilities.None;

    /// <summary>Whether the receive thread runs (for tests: it must be gone after Dispose).</summary>
    internal bool IsReceiving => _lifecycle.IsReceiving;

    /// <inheritdoc/>
    /// <remarks>Starts the receive thread; frames arrive on it one at a time.</remarks>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    /// <exception cref="ObjectDisposedException">The port was disposed.</exception>
    public void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        _lifecycle.Start(() =>
        {
            var guard = new ReceiverGuard(Name, receiver, Counters, _logger);
            return new DgramReceiveLoop(Name, _socket, _maxFrameLength, guard, Counters, _logger, reason => OnSocketLost(reason, guard));
        });
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> frame) => Send(frame, default);

    /// <inheritdoc/>
    /// <remarks>
    /// Returns false (and counts) after disposal, for offloads, runts, frames over the limit, a
    /// full socket buffer, or a peer that is not there (UNIX: no socket bound at the remote path).
    /// </remarks>
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!_lifecycle.LinkUp || offload.NeedsChecksum || offload.GsoType != GsoType.None
            || frame.Length < EthernetHeaderLength || frame.Length > _maxFrameLength
            || !SocketCalls.TryLease(_socket, out var lease))
        {
            Counters.CountSendFailure();
            return false;
        }
        nint sent;
        using (lease) sent = SocketCalls.SendTo(lease.Number, frame, _destination);
        if (sent != frame.Length)
        {
            Counters.CountSendFailure();
            return false;
        }
        Counters.CountSent(frame.Length);
        return true;
    }

    /// <summary>Stops the receive thread, closes the socket and removes a UNIX socket file the port bound.</summary>
    public void Dispose()
    {
        if (!_lifecycle.Dispose()) return;
        _socket.Dispose();
        SocketAddressText.RemoveStaleSocket(_socketPathToRemove);
    }

    private static void JoinGroup(Socket socket, DgramPortOptions options)
    {
        var group = (IPEndPoint)options.Remote;
        var interfaceAddress = (options.Local as IPEndPoint)?.Address ?? IPAddress.Any;
        // As net/dgram.c net_dgram_mcast_create: several members on one host bind the same group and
        // port (SO_REUSEADDR), join on the chosen interface, and hear each other through loopback.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(group.Address, group.Port));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group.Address, interfaceAddress));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
        if (options.Local is not null)
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, interfaceAddress.GetAddressBytes());
        if (options.MulticastTimeToLive is { } ttl)
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, ttl);
    }

    private void OnSocketLost(string reason, ReceiverGuard guard)
    {
        if (_lifecycle.MarkLinkDown()) SocketLog.LinkDown(_logger, Name, reason);
        if (!_lifecycle.IsDisposed) guard.Link(false);
    }
}
