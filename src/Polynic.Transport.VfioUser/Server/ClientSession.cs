using System.Buffers;
using Microsoft.Extensions.Logging;
using Polynic.Core.Pci;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// One connected client, served on the thread that calls <see cref="Run"/> (the reader
/// thread). Commands are handled in arrival order on that thread, so a REGION_READ never
/// passes an earlier posted write (spec, "Command Concurrency"). Replies to the server's own
/// DMA_READ/WRITE requests arrive on the same socket and are matched by message ID.
/// </summary>
/// <remarks>
/// A device that does message-based DMA while its register access is being handled blocks the
/// reader thread; the reader then "pumps" the socket itself: replies complete their requests,
/// and client commands that arrive meanwhile are set aside (bounded) and handled afterwards, in
/// order. Nothing is handed between threads on the REGION_READ/WRITE path, and nothing is
/// allocated there: the receive and reply buffers are the session's own, rented once.
/// </remarks>
internal sealed partial class ClientSession : IDisposable
{
    /// <summary>Commands a client may queue while the server waits for a DMA reply, before it is disconnected.</summary>
    private const int MaxDeferredMessages = 1024;
    private const long MaxDeferredBytes = 64L * 1024 * 1024;
    private const int ServerRequestSlots = 16;

    private readonly PciFunction _function;
    private readonly VfioUserServerOptions _options;
    private readonly ILogger _log;
    private readonly FileDescriptor _socket;
    private readonly object _sendLock = new();
    private readonly DmaAddressSpace _dma;
    private readonly InterruptEventFds _interrupts;
    private readonly ServerRequestTable _requests = new(ServerRequestSlots);
    private readonly Queue<ReceivedMessage> _deferred = new();
    private readonly byte[] _receiveBuffer;
    private readonly byte[] _replyBuffer;
    private readonly int[] _fds = new int[64];
    private readonly int _messageCap;
    private readonly byte[] _versionReply;
    private readonly DmaAccessFormat _dmaFormat;
    private readonly ulong[] _regionSizes;
    private Thread? _readerThread;
    private volatile bool _closing;
    private bool _versioned;
    private bool _connected;
    private int _clientMaxTransfer = VersionCapabilities.Defaults.MaxDataTransferSize;
    private long _deferredBytes;
    private bool _warnedUnsealed;

    public ClientSession(PciFunction function, FileDescriptor socket, VfioUserServerOptions options, byte[] versionReply, ILogger log)
    {
        _function = function;
        _socket = socket;
        _options = options;
        _versionReply = versionReply;
        _log = log;
        // The largest legal message is a REGION_WRITE or DMA reply: header, 16-byte fixed part
        // and max_data_xfer_size bytes of data.
        _messageCap = options.MaxDataTransferSize + 64;
        _receiveBuffer = ArrayPool<byte>.Shared.Rent(_messageCap);
        _replyBuffer = ArrayPool<byte>.Shared.Rent(_messageCap);
        _dmaFormat = new DmaAccessFormat(options.DmaMessageLayout);
        _dma = new DmaAddressSpace(new Messenger(this), options.MaxDmaMaps);
        _interrupts = new InterruptEventFds(function.Definition);
        _regionSizes = RegionSizes(function.Definition);
    }

    /// <summary>The guest memory this session gives the device (for tests and diagnostics).</summary>
    internal DmaAddressSpace Dma => _dma;

    /// <summary>Serves the client until it disconnects, breaks the protocol, or <see cref="Abort"/> is called.</summary>
    public void Run()
    {
        _readerThread = Thread.CurrentThread;
        try
        {
            while (!_closing)
            {
                ReceivedMessage message;
                if (_deferred.Count > 0)
                {
                    message = _deferred.Dequeue();
                    _deferredBytes -= message.Header.MessageSize;
                }
                else if (!TryReadMessage(pumping: false, out message))
                {
                    break;
                }
                try
                {
                    Handle(message);
                }
                finally
                {
                    message.ReturnBuffer();
                }
            }
        }
        catch (Exception e)
        {
            // A bug of ours must cost this client its connection, never the server.
            _log.LogError(e, "{Function}: closing the client connection after an internal error", _function.Name);
        }
        finally
        {
            EndSession();
        }
    }

    /// <summary>Disconnects the client from another thread (server shutdown); <see cref="Run"/> then returns.</summary>
    public void Abort() => BeginClose();

    public void Dispose()
    {
        _socket.Dispose();
    }

    private void Handle(in ReceivedMessage message)
    {
        if (message.Header.IsReply)
        {
            message.CloseFds();
            if (!_requests.Complete(message.Header, message.Bytes))
                _log.LogWarning("{Function}: dropped a reply with ID {Id} that matches no request", _function.Name, message.Header.MessageId);
            return;
        }
        Dispatch(message);
    }

    /// <summary>
    /// Reads one whole message. False when the stream ended or broke the framing rules; the
    /// reason is logged and the session is closing. Never reads more than the message cap.
    /// </summary>
    private bool TryReadMessage(bool pumping, out ReceivedMessage message)
    {
        message = default;
        int fdCount = 0, dropped = 0;
        Span<byte> head = stackalloc byte[MessageHeader.Size];
        try
        {
            int got = 0;
            while (got < MessageHeader.Size)
            {
                int n = UnixSocket.Receive(_socket, head[got..], _fds, ref fdCount, ref dropped);
                if (n == 0)
                {
                    if (got > 0) _log.LogWarning("{Function}: client closed the socket inside a message header", _function.Name);
                    else if (!_closing) _log.LogInformation("{Function}: client disconnected", _function.Name);
                    return Fail(fdCount);
                }
                got += n;
            }
            var header = MessageHeader.Read(head);
            if (header.MessageSize < MessageHeader.Size)
                return Violation($"message size {header.MessageSize} is smaller than the 16-byte header", fdCount);
            if (header.MessageSize > _messageCap)
                return Violation($"message size {header.MessageSize} exceeds the limit of {_messageCap} bytes", fdCount);
            if (!header.IsCommand && !header.IsReply)
                return Violation($"message type {(uint)(header.Flags & MessageFlags.TypeMask)} is neither command nor reply", fdCount);

            int size = (int)header.MessageSize;
            byte[] buffer = pumping ? ArrayPool<byte>.Shared.Rent(size) : _receiveBuffer;
            head.CopyTo(buffer);
            int total = MessageHeader.Size;
            while (total < size)
            {
                int n = UnixSocket.Receive(_socket, buffer.AsSpan(total, size - total), _fds, ref fdCount, ref dropped);
                if (n == 0)
                {
                    if (pumping) ArrayPool<byte>.Shared.Return(buffer);
                    return Violation($"client closed the socket {size - total} bytes before the end of a {header.Command} message", fdCount);
                }
                total += n;
            }
            int[] fds = _fds;
            if (pumping && fdCount > 0) fds = _fds.AsSpan(0, fdCount).ToArray();
            message = new ReceivedMessage(header, buffer, pumping, fds, fdCount, dropped);
            return true;
        }
        catch (IOException e)
        {
            if (!_closing) _log.LogInformation("{Function}: client connection lost: {Reason}", _function.Name, e.Message);
            return Fail(fdCount);
        }
    }

    private bool Violation(string reason, int fdCount)
    {
        _log.LogWarning("{Function}: disconnecting client: {Reason}", _function.Name, reason);
        return Fail(fdCount);
    }

    private bool Fail(int fdCount)
    {
        foreach (int fd in _fds.AsSpan(0, fdCount)) LibC.close(fd);
        BeginClose();
        return false;
    }

    /// <summary>
    /// Reads and routes one message while the reader thread waits for a DMA reply or a free
    /// request slot. False on timeout, disconnect, or too many set-aside commands.
    /// </summary>
    private bool PumpOnce(long deadline)
    {
        if (_closing) return false;
        int remaining = (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
        if (remaining == 0 || !Poll.WaitReadable(_socket, null, remaining)) return false;
        if (!TryReadMessage(pumping: true, out var message)) return false;
        if (message.Header.IsReply)
        {
            Handle(message);
            message.ReturnBuffer();
            return true;
        }
        if (_deferred.Count >= MaxDeferredMessages || _deferredBytes + message.Header.MessageSize > MaxDeferredBytes)
        {
            message.CloseFds();
            message.ReturnBuffer();
            _log.LogWarning("{Function}: disconnecting client: it queued more than {Count} commands while a DMA request was outstanding",
                _function.Name, MaxDeferredMessages);
            BeginClose();
            return false;
        }
        _deferred.Enqueue(message);
        _deferredBytes += message.Header.MessageSize;
        return true;
    }

    /// <summary>Sends a whole message; a failure means the client is gone and closes the session.</summary>
    private bool Send(ReadOnlySpan<byte> message)
    {
        try
        {
            lock (_sendLock) UnixSocket.Send(_socket, message);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            if (!_closing) _log.LogInformation("{Function}: send to client failed: {Reason}", _function.Name, e.Message);
            BeginClose();
            return false;
        }
    }

    private void BeginClose()
    {
        if (_closing) return;
        _closing = true;
        _requests.Close();
        try
        {
            // Wakes the reader thread out of recvmsg/poll.
            LibC.shutdown(_socket, LibC.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Spec, "Client Disconnection": unmap and close everything the client passed; keep the
    /// device state for the next client.
    /// </summary>
    private void EndSession()
    {
        BeginClose();
        if (_connected) _function.Disconnect();
        _connected = false;
        _dma.Dispose();
        _interrupts.Dispose();
        while (_deferred.Count > 0)
        {
            var message = _deferred.Dequeue();
            message.CloseFds();
            message.ReturnBuffer();
        }
        ArrayPool<byte>.Shared.Return(_receiveBuffer);
        ArrayPool<byte>.Shared.Return(_replyBuffer);
        _socket.Dispose();
    }
}
