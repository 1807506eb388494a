using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polynic.Native;

namespace Polynic.Ports.Sockets;

/// <summary>
/// A <see cref="DgramPort"/>'s receive thread: poll() on the socket and a wake-up eventfd, then
/// recv datagrams until EAGAIN into one preallocated buffer, each one frame. Nothing is allocated
/// per frame. Ends when stopped or when the socket fails for good.
/// </summary>
internal sealed class DgramReceiveLoop
{
    private const int EthernetHeaderLength = 14;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly string _portName;
    private readonly Socket _socket;
    private readonly int _maxFrameLength;
    private readonly ReceiverGuard _receiver;
    private readonly PortCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<string> _socketLost;
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly byte[] _buffer;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public DgramReceiveLoop(string portName, Socket socket, int maxFrameLength, ReceiverGuard receiver,
        PortCounters counters, ILogger logger, Action<string> socketLost)
    {
        _portName = portName;
        _socket = socket;
        _maxFrameLength = maxFrameLength;
        _receiver = receiver;
        _counters = counters;
        _logger = logger;
        _socketLost = socketLost;
        // One byte more than the limit, so that MSG_TRUNC's real length tells an oversized datagram apart.
        _buffer = GC.AllocateUninitializedArray<byte>(maxFrameLength + 1, pinned: true);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{portName} receive" };
    }

    public bool IsRunning => _thread.IsAlive;

    public void Start() => _thread.Start();

    /// <summary>Stops the thread and waits for it, unless called from a receiver callback on that thread.</summary>
    public void Stop()
    {
        _stopping = true;
        EventFd.Signal(_wake);
        if (Thread.CurrentThread != _thread && _thread.IsAlive && !_thread.Join(StopTimeout))
            SocketLog.ThreadStuck(_logger, _portName, (int)StopTimeout.TotalSeconds);
        _wake.Dispose();
    }

    private void Run()
    {
        if (!SocketCalls.TryLease(_socket, out var socket)) return;
        using (socket)
        {
            if (!_wake.TryLease(out var wake)) return;
            string? lost;
            using (wake) lost = Pump(socket.Number, wake.Number);
            if (lost is not null && !_stopping) _socketLost(lost);
        }
    }

    /// <returns>null when stopped; otherwise why the socket can no longer be used.</returns>
    private string? Pump(int socket, int wake)
    {
        while (!_stopping)
        {
            int errno = Poll.Wait(socket, wake, -1, out short events, out bool woken);
            if (errno != 0) return $"poll failed: {Errno.Describe(errno)}";
            if (woken) return null;
            if ((events & LibC.POLLNVAL) != 0) return "the socket was closed";
            if (events != 0 && Drain(socket) is { } failure) return failure;
        }
        return null;
    }

    private string? Drain(int socket)
    {
        while (!_stopping)
        {
            // MSG_TRUNC makes recv return the datagram's real length even when it did not fit (udp(7), unix(7)).
            nint read = SocketCalls.Receive(socket, _buffer, SocketCalls.MSG_TRUNC);
            if (read == -Errno.EAGAIN) return null;
            if (read < 0)
            {
                int errno = (int)-read;
                _counters.CountReceiveError();
                // ICMP errors queued on the socket (a peer port that is closed) are reported once and are harmless.
                if (errno is Errno.EBADF or SocketCalls.ENOTSOCK or Errno.EINVAL) return $"receive failed: {Errno.Describe(errno)}";
                continue;
            }
            int length = (int)read;
            if (length < EthernetHeaderLength || length > _maxFrameLength)
            {
                _counters.CountReceiveError();
                continue;
            }
            _receiver.Frame(_buffer.AsSpan(0, length));
        }
        return null;
    }
}
