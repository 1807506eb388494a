using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Pci;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// Serves one <see cref="PciFunction"/> to a vfio-user client (QEMU's
/// <c>-device vfio-user-pci</c>) on a UNIX socket. Each server has its own thread, which
/// accepts one client at a time and handles its commands; a process serves many devices by
/// running one server per function.
/// </summary>
/// <remarks>
/// When a client disconnects, its DMA windows are unmapped, its descriptors closed and the
/// function disconnected, with the device state kept (spec, "Client Disconnection"); the next
/// client is then accepted. Nothing a client sends can stop the server: malformed messages get
/// an error reply or cost that client its connection.
/// </remarks>
/// <example>
/// <code>
/// var function = new PciFunction(device, "nic0", loggerFactory);
/// await using var server = new VfioUserServer(function, "/run/polynic/nic0.sock", loggerFactory: loggerFactory);
/// await server.StartAsync();
/// // qemu-system-x86_64 ... -device '{"driver":"vfio-user-pci","socket":{"path":"/run/polynic/nic0.sock","type":"unix"}}'
/// </code>
/// </example>
public sealed class VfioUserServer : IAsyncDisposable
{
    private readonly VfioUserServerOptions _options;
    private readonly ILogger _log;
    private readonly byte[] _versionReply;
    private readonly object _lock = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FileDescriptor? _listener;
    private FileDescriptor? _wake;
    private Thread? _thread;
    private ClientSession? _session;
    private DateTimeOffset _connectedAt;
    private volatile bool _stopping;
    private int _clientsServed;

    /// <summary>Creates a server for <paramref name="function"/>; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="function">The PCI function to serve.</param>
    /// <param name="socketPath">Path of the UNIX socket to create (at most 107 bytes).</param>
    /// <param name="options">Limits; the defaults suit QEMU.</param>
    /// <param name="loggerFactory">Where logs go; none by default.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public VfioUserServer(PciFunction function, string socketPath, VfioUserServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        Function = function;
        SocketPath = socketPath;
        _options = options ?? new VfioUserServerOptions();
        _options.Validate();
        _log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger($"Polynic.VfioUser.{function.Name}");
        _versionReply = VersionCapabilities.FormatReply(_options.MaxMessageFds, _options.MaxDataTransferSize,
            _options.MaxDmaMaps, (int)ClientSession.DmaPageSize);
    }

    /// <summary>The function being served.</summary>
    public PciFunction Function { get; }

    /// <summary>Path of the listening socket.</summary>
    public string SocketPath { get; }

    /// <summary>Whether a client is connected now.</summary>
    public bool IsClientConnected => Volatile.Read(ref _session) is not null;

    /// <summary>The connected client, or null: when it connected and the guest memory it has given the device.</summary>
    public VfioUserClientInfo? Client
    {
        get
        {
            var session = Volatile.Read(ref _session);
            if (session is null) return null;
            var dma = session.Dma;
            return new VfioUserClientInfo(_connectedAt, dma.RegionCount, dma.MappedRegionCount, dma.TotalLength);
        }
    }

    /// <summary>Clients accepted so far (including the current one).</summary>
    public int ClientsServed => Volatile.Read(ref _clientsServed);

    /// <summary>Completes when the server thread has ended (after <see cref="DisposeAsync"/>).</summary>
    public Task Completion => _stopped.Task;

    /// <summary>
    /// Creates the socket and starts the server thread. Completes once the socket accepts
    /// connections.
    /// </summary>
    /// <exception cref="IOException">The socket cannot be created (path too long, in use, or a non-socket file is there).</exception>
    /// <exception cref="InvalidOperationException">Already started or disposed.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (_thread is not null || _stopping) throw new InvalidOperationException("The server was already started or stopped.");
            RemoveStaleSocket();
            _listener = UnixSocket.Listen(SocketPath, backlog: 4);
            _wake = EventFd.Create();
            _thread = new Thread(AcceptLoop) { IsBackground = true, Name = $"vfio-user {Function.Name}" };
            _thread.Start();
        }
        _log.LogInformation("{Function}: vfio-user server listening on {Path}", Function.Name, SocketPath);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Disconnects the client (if any), stops the thread, closes and removes the socket file.
    /// The function is left disconnected with its state intact. Safe to call more than once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Thread? thread;
        lock (_lock)
        {
            if (_stopping && _thread is null) return;
            _stopping = true;
            thread = _thread;
            if (_wake is not null) EventFd.Signal(_wake);
            Volatile.Read(ref _session)?.Abort();
        }
        if (thread is null)
        {
            _stopped.TrySetResult();
            return;
        }
        await _stopped.Task.ConfigureAwait(false);
        lock (_lock)
        {
            _listener?.Dispose();
            _wake?.Dispose();
            _thread = null;
            TryUnlink();
        }
        _log.LogInformation("{Function}: vfio-user server on {Path} stopped", Function.Name, SocketPath);
    }

    private void AcceptLoop()
    {
        try
        {
            while (!_stopping)
            {
                if (!Poll.WaitReadable(_listener!, _wake, -1)) continue;
                FileDescriptor connection;
                try
                {
                    connection = UnixSocket.Accept(_listener!);
                }
                catch (IOException e)
                {
                    if (!_stopping) _log.LogWarning("{Function}: accept failed: {Reason}", Function.Name, e.Message);
                    continue;
                }
                Serve(connection);
            }
        }
        catch (Exception e)
        {
            _log.LogCritical(e, "{Function}: vfio-user server thread failed; the socket no longer accepts clients", Function.Name);
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Serve(FileDescriptor connection)
    {
        var session = new ClientSession(Function, connection, _options, _versionReply, _log);
        lock (_lock)
        {
            if (_stopping) { session.Dispose(); return; }
            _connectedAt = DateTimeOffset.UtcNow;
            Volatile.Write(ref _session, session);
            Interlocked.Increment(ref _clientsServed);
        }
        _log.LogInformation("{Function}: client connected on {Path}", Function.Name, SocketPath);
        try
        {
            session.Run();
        }
        finally
        {
            lock (_lock) Volatile.Write(ref _session, null);
            _log.LogInformation("{Function}: client session ended; device state kept, waiting for the next client", Function.Name);
        }
    }

    private void RemoveStaleSocket()
    {
        if (!UnixSocket.PathExists(SocketPath, out bool isSocket)) return;
        if (!isSocket || !_options.ReplaceStaleSocket)
            throw new IOException($"'{SocketPath}' exists{(isSocket ? "" : " and is not a socket")}; refusing to replace it.");
        if (UnixSocket.IsListening(SocketPath))
            throw new IOException($"Another server is listening on '{SocketPath}'.");
        TryUnlink();
    }

    private void TryUnlink()
    {
        LibC.unlink(SocketPath);
    }
}

/// <summary>A connected vfio-user client as management shows it.</summary>
/// <param name="ConnectedAt">When the client connected.</param>
/// <param name="DmaRegions">Guest memory regions the client registered (DMA_MAP).</param>
/// <param name="MappedDmaRegions">Of those, the ones mapped into this process; the others are reached through DMA_READ/DMA_WRITE messages.</param>
/// <param name="DmaBytes">Bytes of guest memory the regions cover.</param>
public sealed record VfioUserClientInfo(DateTimeOffset ConnectedAt, int DmaRegions, int MappedDmaRegions, ulong DmaBytes);
