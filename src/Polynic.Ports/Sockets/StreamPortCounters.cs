namespace Polynic.Ports.Sockets;

/// <summary>
/// What a <see cref="StreamPort"/> did besides moving frames (those are in <see cref="PortCounters"/>):
/// its connections and what it refused. Monotonic, read without locks.
/// </summary>
public sealed class StreamPortCounters
{
    private long _connections;
    private long _protocolErrors;
    private long _backlogDrops;
    private long _backloggedSends;

    /// <summary>Peers accepted (server) or connections made (client).</summary>
    public long Connections => Volatile.Read(ref _connections);

    /// <summary>Connections cut because the peer announced a frame longer than the limit.</summary>
    public long ProtocolErrors => Volatile.Read(ref _protocolErrors);

    /// <summary>Frames dropped because the socket and the send backlog were full (a slow peer).</summary>
    public long BacklogDrops => Volatile.Read(ref _backlogDrops);

    /// <summary>Frames the socket could not take at once and that waited in the send backlog.</summary>
    public long BackloggedSends => Volatile.Read(ref _backloggedSends);

    internal void CountConnection() => Interlocked.Increment(ref _connections);
    internal void CountProtocolError() => Interlocked.Increment(ref _protocolErrors);
    internal void CountBacklogDrop() => Interlocked.Increment(ref _backlogDrops);
    internal void CountBackloggedSend() => Interlocked.Increment(ref _backloggedSends);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Connections} connections, {ProtocolErrors} protocol errors, {BackloggedSends} backlogged sends, {BacklogDrops} backlog drops";
}
