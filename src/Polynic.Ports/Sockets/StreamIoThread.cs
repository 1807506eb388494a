using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polynic.Native;

namespace Polynic.Ports.Sockets;

/// <summary>
/// The thread of a <see cref="StreamPort"/>: gets a peer (accept as a server, connect and
/// reconnect as a client), then poll()s the connection and a wake-up eventfd, reading frames
/// into one preallocated <see cref="StreamFrameReader"/> and flushing the send backlog when the
/// socket is writable, until the peer leaves, misbehaves, or the port stops.
/// </summary>
internal sealed unsafe class StreamIoThread
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    // Reads per poll round: a peer that floods must not starve the backlog flush or a stop.
    private const int ReadsPerRound = 64;

    private readonly StreamPort _port;
    private readonly StreamPortOptions _options;
    private readonly Socket? _listener;
    private readonly ReceiverGuard _receiver;
    private readonly PortCounters _counters;
    private readonly StreamPortCounters _streamCounters;
    private readonly ILogger _logger;
    private readonly StreamFrameReader _reader;
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly Thread _thread;
    private volatile bool _stopping;

    public StreamIoThread(StreamPort port, StreamPortOptions options, Socket? listener, ReceiverGuard receiver,
        PortCounters counters, StreamPortCounters streamCounters, ILogger logger)
    {
        _port = port;
        _options = options;
        _listener = listener;
        _receiver = receiver;
        _counters = counters;
        _streamCounters = streamCounters;
        _logger = logger;
        _reader = new StreamFrameReader(options.MaxFrameLength);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{port.Name} I/O" };
    }

    public bool IsRunning => _thread.IsAlive;

    public void Start() => _thread.Start();

    /// <summary>Makes the thread look at the send backlog (or at <see cref="Stop"/>).</summary>
    public void Wake() => EventFd.Signal(_wake);

    /// <summary>Stops the thread and waits for it, unless called from a receiver callback on that thread.</summary>
    public void Stop()
    {
        _stopping = true;
        EventFd.Signal(_wake);
        if (Thread.CurrentThread != _thread && _thread.IsAlive && !_thread.Join(StopTimeout))
            SocketLog.ThreadStuck(_logger, _port.Name, (int)StopTimeout.TotalSeconds);
        // The eventfd is leased by the thread while it runs, so disposing it here is safe.
        _wake.Dispose();
    }

    private void Run()
    {
        if (!_wake.TryLease(out var wake)) return;
        using (wake)
        {
            if (_listener is not null) Serve(wake.Number);
            else Connect(wake.Number);
        }
    }

    private void Serve(int wake)
    {
        while (!_stopping && Accept(wake) is { } peer)
            Converse(peer, wake, next: "waiting for the next peer");
    }

    private void Connect(int wake)
    {
        var retry = _options.Reconnect;
        string retrying = $"retrying every {retry.TotalMilliseconds:0} ms";
        bool failing = false;
        while (!_stopping)
        {
            var peer = TryConnect(wake, out string failure);
            if (peer is null)
            {
                if (_stopping) return;
                if (retry == TimeSpan.Zero)
                {
                    SocketLog.ConnectFailed(_logger, _port.Name, failure, "no reconnect configured: the link stays down");
                    return;
                }
                if (!failing) SocketLog.ConnectFailed(_logger, _port.Name, failure, retrying);
                else SocketLog.ConnectRetryFailed(_logger, _port.Name, failure);
                failing = true;
            }
            else
            {
                failing = false;
                Converse(peer, wake, retry == TimeSpan.Zero ? "no reconnect configured: the link stays down" : retrying);
                if (retry == TimeSpan.Zero) return;
            }
            // QEMU waits reconnect-ms before every new attempt, after a failure and after a loss alike.
            if (!Sleep(wake, retry)) return;
        }
    }

    /// <summary>Runs one connection to its end; reports link up, then link down with its reason.</summary>
    private void Converse(Socket peer, int wake, string next)
    {
        if (peer.ProtocolType == ProtocolType.Tcp) peer.NoDelay = true;
        _reader.Reset();
        _port.Attach(peer);
        _streamCounters.CountConnection();
        SocketLog.Connected(_logger, _port.Name, SocketAddressText.Describe(_port.PeerEndPoint));
        _receiver.Link(true);

        string? reason = "the socket was closed";
        if (SocketCalls.TryLease(peer, out var lease))
        {
            using (lease) reason = Pump(lease.Number, wake);
        }
        _port.Detach(peer);
        if (_stopping || reason is null) return;
        SocketLog.LinkDown(_logger, _port.Name, $"{reason}; {next}");
        _receiver.Link(false);
    }

    /// <returns>null when stopped; otherwise why the connection ended.</returns>
    private string? Pump(int socket, int wake)
    {
        var fds = stackalloc LibC.PollFd[2];
        while (!_stopping)
        {
            short interest = LibC.POLLIN;
            if (_port.HasBacklog) interest |= SocketCalls.POLLOUT;
            fds[0] = new LibC.PollFd { Fd = socket, Events = interest };
            fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
            if (LibC.poll(fds, 2, -1) < 0)
            {
                int errno = LibC.LastErrno;
                if (errno == Errno.EINTR) continue;
                return $"poll failed: {Errno.Describe(errno)}";
            }
            if (fds[1].Revents != 0)
            {
                EventFd.Drain(_wake);
                continue;
            }

            short events = fds[0].Revents;
            if ((events & SocketCalls.POLLOUT) != 0 && _port.FlushBacklog(socket) is var sendErrno && sendErrno != 0)
                return $"send failed: {Errno.Describe(sendErrno)}";
            if ((events & (LibC.POLLIN | LibC.POLLERR | LibC.POLLHUP)) != 0 && Read(socket) is { } ended) return ended;
            if ((events & LibC.POLLNVAL) != 0) return "the socket was closed";
        }
        return null;
    }

    private string? Read(int socket)
    {
        for (int round = 0; round < ReadsPerRound && !_stopping; round++)
        {
            nint read = SocketCalls.Receive(socket, _reader.FreeSpace);
            if (read == -Errno.EAGAIN) return null;
            if (read == 0) return "the peer closed the connection";
            if (read < 0)
            {
                _counters.CountReceiveError();
                return $"receive failed: {Errno.Describe((int)-read)}";
            }
            _reader.Commit((int)read);
            if (DeliverFrames() is { } protocolError) return protocolError;
            _reader.Compact();
        }
        return null;
    }

    private string? DeliverFrames()
    {
        while (true)
        {
            switch (_reader.TryTake(out var frame))
            {
                case StreamFrameStatus.Frame:
                    _receiver.Frame(frame);
                    break;
                case StreamFrameStatus.Runt:
                    _counters.CountReceiveError();
                    break;
                case StreamFrameStatus.Oversized:
                    _counters.CountReceiveError();
                    _streamCounters.CountProtocolError();
                    return $"protocol error: the peer announced a {_reader.RejectedLength}-byte frame, over the " +
                        $"{_options.MaxFrameLength}-byte limit (not QEMU's framing, or a hostile peer); connection dropped";
                default:
                    return null;
            }
        }
    }

    private Socket? Accept(int wake)
    {
        if (!SocketCalls.TryLease(_listener!, out var lease)) return null;
        using (lease)
        {
            var fds = stackalloc LibC.PollFd[2];
            while (!_stopping)
            {
                fds[0] = new LibC.PollFd { Fd = lease.Number, Events = LibC.POLLIN };
                fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
                if (LibC.poll(fds, 2, -1) < 0)
                {
                    if (LibC.LastErrno == Errno.EINTR) continue;
                    return null;
                }
                if (fds[1].Revents != 0)
                {
                    EventFd.Drain(_wake);
                    continue;
                }
                if ((fds[0].Revents & LibC.POLLNVAL) != 0) return null;
                try
                {
                    return _listener!.Accept();
                }
                catch (SocketException exception) when (exception.SocketErrorCode is SocketError.WouldBlock
                    or SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
                {
                    // The peer left between poll and accept: wait for the next one.
                }
                catch (SocketException exception)
                {
                    // Out of descriptors or memory: say so once per occurrence and back off instead of spinning.
                    SocketLog.ConnectFailed(_logger, _port.Name, $"accept failed: {exception.Message}", "retrying in 1 s");
                    if (!Sleep(wake, TimeSpan.FromSeconds(1))) return null;
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
            }
            return null;
        }
    }

    private Socket? TryConnect(int wake, out string failure)
    {
        var address = _options.Address;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, SocketAddressText.Protocol(address, SocketType.Stream));
        try
        {
            // A connect to an unresponsive host can take minutes. It runs non-blocking and is polled
            // beside the wake-up eventfd, so Stop ends it at once; it never waits on the thread pool
            // (a busy pool made a cancelled ConnectAsync, and with it Dispose, late by seconds).
            socket.Blocking = false;
            try
            {
                socket.Connect(address);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                if (!AwaitWritable(socket, wake))
                {
                    failure = "stopped";
                    socket.Dispose();
                    return null;
                }
                if (socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) is int error && error != 0)
                    throw new SocketException(error);
                // A UNIX socket whose listener's backlog was full never started connecting: no peer (ENOTCONN).
                _ = socket.RemoteEndPoint ?? throw new SocketException((int)SocketError.NotConnected);
            }
            socket.Blocking = true;
            failure = "";
            return socket;
        }
        catch (SocketException exception)
        {
            failure = $"connect to {SocketAddressText.Describe(address)} failed: {exception.Message} ({exception.SocketErrorCode})";
        }
        socket.Dispose();
        return null;
    }

    /// <summary>Waits until a connecting socket is writable (connected or failed); false if the port stopped first.</summary>
    private bool AwaitWritable(Socket socket, int wake)
    {
        var fds = stackalloc LibC.PollFd[2];
        while (!_stopping)
        {
            fds[0] = new LibC.PollFd { Fd = (int)socket.Handle, Events = SocketCalls.POLLOUT };
            fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
            if (LibC.poll(fds, 2, -1) < 0) continue; // EINTR
            if (fds[1].Revents != 0) EventFd.Drain(_wake);
            if (fds[0].Revents != 0) return true;
        }
        return false;
    }

    /// <summary>Waits <paramref name="duration"/>; false if the port stopped meanwhile.</summary>
    private bool Sleep(int wake, TimeSpan duration)
    {
        var deadline = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        var fds = stackalloc LibC.PollFd[1];
        while (!_stopping)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return true;
            fds[0] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
            if (LibC.poll(fds, 1, (int)Math.Min(left, int.MaxValue)) > 0) EventFd.Drain(_wake);
        }
        return false;
    }
}
