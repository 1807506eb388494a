using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polynic.Native;

namespace Polynic.Ports.Sockets;

/// <summary>
/// A <see cref="DgramPort"/>'s receive thread (a <see cref="PollingReceiveLoop"/>): poll() on the
/// socket and a wake-up eventfd, then recv datagrams until EAGAIN into one preallocated buffer,
/// each one frame. Nothing is allocated per frame. Ends when stopped or when the socket fails for good.
/// </summary>
internal sealed unsafe class DgramReceiveLoop : PollingReceiveLoop
{
    private const int EthernetHeaderLength = 14;

    private readonly Socket _socket;
    private readonly int _maxFrameLength;
    private readonly ReceiverGuard _receiver;

    // One byte more than the limit, so that MSG_TRUNC's real length tells an oversized datagram apart.
    public DgramReceiveLoop(string portName, Socket socket, int maxFrameLength, ReceiverGuard receiver,
        PortCounters counters, ILogger logger, Action<string> socketLost)
        : base(portName, maxFrameLength + 1, counters, logger, socketLost, SocketLog.ThreadStuck)
    {
        _socket = socket;
        _maxFrameLength = maxFrameLength;
        _receiver = receiver;
    }

    protected override void Run()
    {
        if (!SocketCalls.TryLease(_socket, out var socket)) return;
        using (socket) Pump(socket.Number);
    }

    protected override string? OnPolled(int fd, short events)
    {
        if ((events & LibC.POLLNVAL) != 0) return "the socket was closed";
        return events != 0 ? Drain(fd) : null;
    }

    // MSG_TRUNC makes recv return the datagram's real length even when it did not fit (udp(7), unix(7)).
    protected override nint Read(int fd, byte* buffer) => SocketCalls.Receive(fd, Buffer, SocketCalls.MSG_TRUNC);

    protected override string? OnReadFailed(int errno)
    {
        Counters.CountReceiveError();
        // ICMP errors queued on the socket (a peer port that is closed) are reported once and are harmless.
        return errno is Errno.EBADF or SocketCalls.ENOTSOCK or Errno.EINVAL ? $"receive failed: {Errno.Describe(errno)}" : null;
    }

    protected override void Deliver(byte* buffer, int length)
    {
        if (length < EthernetHeaderLength || length > _maxFrameLength)
        {
            Counters.CountReceiveError();
            return;
        }
        _receiver.Frame(Buffer.AsSpan(0, length));
    }
}
