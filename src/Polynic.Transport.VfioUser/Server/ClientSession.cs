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
/// <para>Whoever holds the session's read baton reads the socket. The reader thread holds it
/// only while it reads; it lets go before it handles a command, because handling may wait for a
/// device lock. A thread waiting for the reply to its DMA_READ/WRITE (often holding that very
/// device lock) takes the baton whenever the reader is not reading, and reads on: replies
/// complete their requests, commands are set aside (bounded) for the reader, in order. So a
/// device that does message-based DMA under its lock never waits on a reader that waits on the
/// same lock.</para>
/// <para>Nothing is handed between threads on the REGION_READ/WRITE path, and nothing is
/// allocated there: the receive and reply buffers are the session's own, rented once.</para>
/// </remarks>
internal sealed partial class ClientSession : IDisposable
{
    /// <summary>Commands a client may queue while the server waits for a DMA reply, before it is disconnected.</summary>
    private const int MaxDeferredMessages = 1024;
    private const long MaxDeferredBytes = 64L * 1024 * 1024;
    private const int ServerRequestSlots = 16;
    /// <summary>How long the rest of a message may take once its first bytes arrived.</summary>
    private const int MessageCompletionMilliseconds = 5000;

    private readonly PciFunction _function;
    private readonly VfioUserServerOptions _options;
    private readonly PollWindow _pollWindow;
    private readonly ILogger _log;
    private readonly FileDescriptor _socket;
    private readonly object _sendLock = new();
    private readonly DmaAddressSpace _dma;
    private readonly InterruptEventFds _interrupts;
    private readonly ServerRequestTable _requests = new(ServerRequestSlots);
    private readonly Queue<ReceivedMessage> _deferred = new();
    private readonly object _readBaton = new();
    private readonly byte[] _receiveBuffer;
    private readonly byte[] _replyBuffer;
    // The reader's descriptors stay in _fds while it handles the message; a pumping thread
    // receives into _pumpFds (under the baton) and copies them out.
    private readonly int[] _fds = new int[64];
    private readonly int[] _pumpFds = new int[64];
    private readonly int _messageCap;
    private readonly byte[] _versionReply;
    private readonly DmaAccessFormat _dmaFormat;
    private readonly ulong[] _regionSizes;
    private readonly RefusalLog _refusals;
    private volatile bool _closing;
    private bool _versioned;
    private bool _connected;
    private int _clientMaxTransfer = VersionCapabilities.Defaults.MaxDataTransferSize;
    private long _deferredBytes;
    private readonly long _handshakeDeadline;
    private bool _warnedMessageDma;

    public ClientSession(PciFunction function, FileDescriptor socket, VfioUserServerOptions options, byte[] versionReply, ILogger log)
    {
        _function = function;
        _socket = socket;
        _options = options;
        _pollWindow = new PollWindow((long)(options.BusyPoll.TotalSeconds * System.Diagnostics.Stopwatch.Frequency));
        _versionReply = versionReply;
        _log = log;
        // The largest legal message is a REGION_WRITE or DMA reply: header, 16-byte fixed part
        // and max_data_xfer_size bytes of data.
        _messageCap = options.MaxDataTransferSize + 64;
        _receiveBuffer = ArrayPool<byte>.Shared.Rent(_messageCap);
        _replyBuffer = ArrayPool<byte>.Shared.Rent(_messageCap);
        _dmaFormat = new DmaAccessFormat(options.DmaMessageLayout);
        _dma = new DmaAddressSpace(new Messenger(this), options.MaxDmaMaps);
        _interrupts = new InterruptEventFds(function.Definition, function.Name, log);
        _regionSizes = RegionSizes(function.Definition);
        _refusals = new RefusalLog(log, function.Name);
        // The device has one client slot: a client that connects and never negotiates must not keep it.
        _handshakeDeadline = Environment.TickCount64 + (long)options.HandshakeTimeout.TotalMilliseconds;
        // A client that stops reading must not hold a sending thread (often with the device lock) for ever.
        if (!UnixSocket.TrySetSendTimeout(socket, options.ServerRequestTimeout))
            _log.LogWarning("{Function}: cannot bound send times on the client socket: {Errno}", function.Name, Errno.Describe(LibC.LastErrno));
    }

    /// <summary>The guest memory this session gives the device (for tests and diagnostics).</summary>
    internal DmaAddressSpace Dma => _dma;

    /// <summary>Serves the client until it disconnects, breaks the protocol, or <see cref="Abort"/> is called.</summary>
    public void Run()
    {
        try
        {
            while (!_closing && TryNextMessage(out var message))
            {
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

    /// <summary>The next command or reply: one set aside by a pumping thread first, else from the socket.</summary>
    private bool TryNextMessage(out ReceivedMessage message)
    {
        if (TryTakeDeferred(out message)) return true;
        lock (_readBaton)
        {
            // A pumping thread may have set a command aside while this thread waited for the baton.
            if (TryTakeDeferred(out message)) return true;
            return TryReadMessage(pumping: false, out message);
        }
    }

    private bool TryTakeDeferred(out ReceivedMessage message)
    {
        lock (_deferred)
        {
            if (_deferred.Count == 0)
            {
                message = default;
                return false;
            }
            message = _deferred.Dequeue();
            _deferredBytes -= message.Header.MessageSize;
            return true;
        }
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
        int[] fdScratch = pumping ? _pumpFds : _fds;
        int fdCount = 0, dropped = 0;
        Span<byte> head = stackalloc byte[MessageHeader.Size];
        try
        {
            if (!_versioned && !pumping)
            {
                int left = (int)Math.Clamp(_handshakeDeadline - Environment.TickCount64, 0, int.MaxValue);
                if (left == 0 || !Poll.WaitReadable(_socket, null, left))
                    return Violation(fdScratch, $"no VERSION within {_options.HandshakeTimeout} of connecting", 0);
            }
            // Timed only between messages on the session's own thread: a pumping thread waits for a
            // DMA reply, which says nothing about how far apart the client's commands are.
            bool adapting = !pumping && _options.BusyPoll > TimeSpan.Zero;
            long waitStart = adapting ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            bool caught = adapting && AwaitNextMessageBriefly(_pollWindow.Current);
            int got = 0;
            while (got < MessageHeader.Size)
            {
                if (got > 0 && !Poll.WaitReadable(_socket, null, MessageCompletionMilliseconds))
                    return Violation(fdScratch, $"a message header stopped after {got} of 16 bytes", fdCount);
                int n = UnixSocket.Receive(_socket, head[got..], fdScratch, ref fdCount, ref dropped);
                if (n == 0)
                {
                    if (got > 0) _log.LogWarning("{Function}: client closed the socket inside a message header", _function.Name);
                    else if (!_closing) _log.LogInformation("{Function}: client disconnected", _function.Name);
                    return Fail(fdScratch, fdCount);
                }
                got += n;
            }
            if (adapting) _pollWindow.Record(caught, System.Diagnostics.Stopwatch.GetTimestamp() - waitStart);
            var header = MessageHeader.Read(head);
            if (header.MessageSize < MessageHeader.Size)
                return Violation(fdScratch, $"message size {header.MessageSize} is smaller than the 16-byte header", fdCount);
            if (header.MessageSize > _messageCap)
                return Violation(fdScratch, $"message size {header.MessageSize} exceeds the limit of {_messageCap} bytes", fdCount);
            if (!header.IsCommand && !header.IsReply)
                return Violation(fdScratch, $"message type {(uint)(header.Flags & MessageFlags.TypeMask)} is neither command nor reply", fdCount);

            int size = (int)header.MessageSize;
            byte[] buffer = pumping ? ArrayPool<byte>.Shared.Rent(size) : _receiveBuffer;
            head.CopyTo(buffer);
            int total = MessageHeader.Size;
            while (total < size)
            {
                // A client may idle between messages, not inside one: a message that stops
                // half-way would hold this thread (and, when pumping, the device lock) for ever.
                if (!Poll.WaitReadable(_socket, null, MessageCompletionMilliseconds))
                {
                    if (pumping) ArrayPool<byte>.Shared.Return(buffer);
                    return Violation(fdScratch, $"the rest of a {header.Command} message ({size - total} bytes) did not arrive within {MessageCompletionMilliseconds} ms", fdCount);
                }
                int n = UnixSocket.Receive(_socket, buffer.AsSpan(total, size - total), fdScratch, ref fdCount, ref dropped);
                if (n == 0)
                {
                    if (pumping) ArrayPool<byte>.Shared.Return(buffer);
                    return Violation(fdScratch, $"client closed the socket {size - total} bytes before the end of a {header.Command} message", fdCount);
                }
                total += n;
            }
            int[] fds = pumping && fdCount > 0 ? fdScratch.AsSpan(0, fdCount).ToArray() : fdScratch;
            message = new ReceivedMessage(header, buffer, pumping, fds, fdCount, dropped);
            return true;
        }
        catch (IOException e)
        {
            if (!_closing) _log.LogInformation("{Function}: client connection lost: {Reason}", _function.Name, e.Message);
            return Fail(fdScratch, fdCount);
        }
    }

    /// <summary>
    /// Polls for the client's next message without blocking for up to <paramref name="window"/>
    /// ticks (see <see cref="VfioUserServerOptions.BusyPoll"/> for why, <see cref="PollWindow"/> for
    /// how long), so a thread whose next message follows soon never sleeps. True when it came.
    /// </summary>
    private bool AwaitNextMessageBriefly(long window)
    {
        if (window <= 0) return false;
        long end = System.Diagnostics.Stopwatch.GetTimestamp() + window;
        while (!_closing)
        {
            if (Poll.WaitReadable(_socket, null, 0)) return true;
            if (System.Diagnostics.Stopwatch.GetTimestamp() >= end) return false;
            Thread.SpinWait(16);
        }
        return false;
    }

    private bool Violation(int[] fds, string reason, int fdCount)
    {
        _log.LogWarning("{Function}: disconnecting client: {Reason}", _function.Name, reason);
        return Fail(fds, fdCount);
    }

    private bool Fail(int[] fds, int fdCount)
    {
        foreach (int fd in fds.AsSpan(0, fdCount)) LibC.close(fd);
        BeginClose();
        return false;
    }

    /// <summary>
    /// Reads and routes one message while a thread that holds the read baton waits for a DMA
    /// reply. False on timeout, disconnect, or too many set-aside commands.
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
        lock (_deferred)
        {
            if (_deferred.Count < MaxDeferredMessages && _deferredBytes + message.Header.MessageSize <= MaxDeferredBytes)
            {
                _deferred.Enqueue(message);
                _deferredBytes += message.Header.MessageSize;
                return true;
            }
        }
        message.CloseFds();
        message.ReturnBuffer();
        _log.LogWarning("{Function}: disconnecting client: it queued more than {Count} commands while a DMA request was outstanding",
            _function.Name, MaxDeferredMessages);
        BeginClose();
        return false;
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
        // Under the baton: a thread still pumping (its read ends with the shutdown above) must not
        // set a command aside after the queue was emptied.
        lock (_readBaton)
        {
            while (TryTakeDeferred(out var message))
            {
                message.CloseFds();
                message.ReturnBuffer();
            }
        }
        ArrayPool<byte>.Shared.Return(_receiveBuffer);
        ArrayPool<byte>.Shared.Return(_replyBuffer);
        _socket.Dispose();
    }
}
