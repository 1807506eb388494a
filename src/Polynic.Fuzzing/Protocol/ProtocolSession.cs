using System.Buffers.Binary;

namespace Polynic.Fuzzing.Protocol;

/// <summary>How a session answers the server's own DMA_READ/WRITE requests.</summary>
internal enum DmaAnswering
{
    /// <summary>Correct replies, with bytes from the session's message memory.</summary>
    Correctly,
    /// <summary>Error replies.</summary>
    WithErrors,
    /// <summary>Replies of the wrong size or for the wrong ID.</summary>
    WithGarbage,
    /// <summary>Not at all: the server must give up (and disconnect) by itself.</summary>
    Never,
}

/// <summary>What one session ended with.</summary>
internal enum SessionEnd
{
    /// <summary>The fuzzer closed the connection after its messages.</summary>
    ClosedByFuzzer,
    /// <summary>The server closed it (a protocol violation it refused, or a DMA request left unanswered).</summary>
    ClosedByServer,
    /// <summary>A reply did not come within the limit while the connection stayed open.</summary>
    Hang,
    /// <summary>The server broke the protocol (a reply to the wrong message, a command it may not send).</summary>
    ProtocolBreach,
}

/// <summary>
/// One connection of the protocol fuzzer: VERSION (usually valid), then messages from
/// <see cref="ProtocolMessages"/>, each checked for a timely, well-formed reply, with the
/// server's DMA requests answered as the session's <see cref="DmaAnswering"/> says.
/// </summary>
internal sealed class ProtocolSession(WireClient client, FuzzRandom random, TimeSpan replyLimit)
{
    private readonly ProtocolMessages _messages = new(random);
    private readonly HostileDescriptors _descriptors = new();
    private readonly DmaAnswering _answering = (DmaAnswering)random.Weighted([88, 5, 6, 1]);
    // IDs of messages sent without asking for a reply that the server may still answer (a
    // mutated message whose flags no longer say no-reply): such a reply may come any time later.
    private readonly HashSet<ushort> _mayBeAnswered = [];

    /// <summary>Messages sent, replies to DMA requests included.</summary>
    public long MessagesSent { get; private set; }

    /// <summary>DMA_READ/WRITE requests the server made.</summary>
    public long ServerRequests { get; private set; }

    /// <summary>Replies that were errors.</summary>
    public long ErrorReplies { get; private set; }

    /// <summary>What went wrong, for a failure report.</summary>
    public string? Detail { get; private set; }

    /// <summary>Sends up to <paramref name="messages"/> messages; returns how the session ended.</summary>
    public SessionEnd Run(int messages)
    {
        try
        {
            var first = random.Percent(95) ? _messages.Version() : _messages.Any();
            var end = Exchange(first);
            if (end is { } early) return early;
            if (random.Percent(70))
                if (Exchange(_messages.EnableBusMaster()) is { } ended) return ended;
            for (int i = 0; i < messages; i++)
            {
                if (random.OneIn(400)) _descriptors.ShrinkMemfds();
                if (random.OneIn(40))
                    foreach (var step in _messages.RingSequence())
                        if (Exchange(step) is { } ended) return ended;
                var message = random.OneIn(300) ? _messages.Truncated() : _messages.Any();
                if (Exchange(message) is { } result) return result;
                if (message.EndsSession) return SessionEnd.ClosedByFuzzer;
            }
            return SessionEnd.ClosedByFuzzer;
        }
        finally
        {
            _descriptors.Dispose();
        }
    }

    /// <summary>Sends one message and, if it wants one, waits for its reply; null while the session goes on.</summary>
    private SessionEnd? Exchange(ProtocolMessage message)
    {
        Span<int> fds = stackalloc int[message.Fds.Length];
        for (int i = 0; i < fds.Length; i++) fds[i] = _descriptors.Create(message.Fds[i]);
        int usable = 0;
        foreach (int fd in fds) if (fd >= 0) fds[usable++] = fd;
        if (!client.Send(message.Bytes, fds[..usable])) return SessionEnd.ClosedByServer;
        MessagesSent++;
        if (message.EndsSession) return null;
        ushort id = BinaryPrimitives.ReadUInt16LittleEndian(message.Bytes);
        if (message.WantsReply) return AwaitReply(id);
        _mayBeAnswered.Add(id);
        return DrainRequests();
    }

    private SessionEnd? AwaitReply(ushort id)
    {
        long deadline = Environment.TickCount64 + (long)replyLimit.TotalMilliseconds;
        while (true)
        {
            WireMessage? received;
            try
            {
                received = client.Receive(deadline);
            }
            catch (TimeoutException)
            {
                Detail = $"no reply to message {id} within {replyLimit.TotalSeconds:0.#} s, connection still open";
                return SessionEnd.Hang;
            }
            catch (InvalidDataException e)
            {
                Detail = e.Message;
                return SessionEnd.ProtocolBreach;
            }
            if (received is not { } reply) return SessionEnd.ClosedByServer;
            if (reply.IsCommand)
            {
                if (Serve(reply) is { } end) return end;
                continue;
            }
            if (reply.Id != id && _mayBeAnswered.Remove(reply.Id)) continue;
            if (reply.Id != id)
            {
                Detail = $"a reply with ID {reply.Id} (command {reply.Command}) came while waiting for {id}";
                return SessionEnd.ProtocolBreach;
            }
            if ((reply.Flags & WireFormat.Error) != 0) ErrorReplies++;
            return null;
        }
    }

    /// <summary>After a message without a reply: serves the DMA requests already waiting, without waiting for more.</summary>
    private SessionEnd? DrainRequests()
    {
        long deadline = Environment.TickCount64;
        while (true)
        {
            WireMessage? received;
            try
            {
                received = client.Receive(deadline);
            }
            catch (TimeoutException)
            {
                return null;
            }
            catch (InvalidDataException e)
            {
                Detail = e.Message;
                return SessionEnd.ProtocolBreach;
            }
            if (received is not { } message) return SessionEnd.ClosedByServer;
            // A reply here can only answer a mutated message that kept a valid header; that is allowed.
            if (message.IsCommand && Serve(message) is { } end) return end;
        }
    }

    /// <summary>Answers a request the server made, as the session's policy says.</summary>
    private SessionEnd? Serve(WireMessage request)
    {
        if (request.Command is not (WireFormat.DmaRead or WireFormat.DmaWrite))
        {
            Detail = $"the server sent command {request.Command}, which a server may not send";
            return SessionEnd.ProtocolBreach;
        }
        ServerRequests++;
        if (_answering == DmaAnswering.Never) return null;
        // QEMU's layout (hw/vfio-user/pci.c): address u64, count u32, then the data.
        uint count = request.Payload.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(request.Payload.AsSpan(8)) : 0;
        bool read = request.Command == WireFormat.DmaRead;
        byte[] reply;
        switch (_answering)
        {
            case DmaAnswering.WithErrors:
                reply = new byte[WireFormat.HeaderSize];
                WireFormat.WriteHeader(reply, request.Id, request.Command, (uint)reply.Length, WireFormat.TypeReply | WireFormat.Error, 14);
                break;
            case DmaAnswering.WithGarbage:
                reply = new byte[WireFormat.HeaderSize + random.Between(0, 64)];
                random.Fill(reply.AsSpan(WireFormat.HeaderSize));
                WireFormat.WriteHeader(reply, random.Coin() ? request.Id : (ushort)random.NextUInt32(), request.Command, (uint)reply.Length, WireFormat.TypeReply);
                break;
            default:
                int data = read ? (int)Math.Min(count, 1 << 20) : 0;
                reply = new byte[WireFormat.HeaderSize + 12 + data];
                WireFormat.WriteHeader(reply, request.Id, request.Command, (uint)reply.Length, WireFormat.TypeReply);
                request.Payload.AsSpan(0, Math.Min(12, request.Payload.Length)).CopyTo(reply.AsSpan(WireFormat.HeaderSize));
                random.Fill(reply.AsSpan(WireFormat.HeaderSize + 12));
                break;
        }
        if (!client.Send(reply)) return SessionEnd.ClosedByServer;
        MessagesSent++;
        return null;
    }
}
