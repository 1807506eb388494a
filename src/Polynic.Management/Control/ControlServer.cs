using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polynic.Management.Hosting;

namespace Polynic.Management.Control;

/// <summary>
/// A Unix socket on which a running server takes management commands: one JSON request per
/// line, one JSON response per line (<see cref="ControlRequest"/>, <see cref="ControlResponse"/>).
/// Only the socket's file permissions (0600, owner = the server's user) guard it.
/// </summary>
/// <remarks>
/// Everything read is untrusted: a line longer than <see cref="ControlJson.MaxRequestBytes"/> or
/// not a request gets an error response; at most <see cref="MaxClients"/> connections are
/// served at once (more wait in the listen backlog), and one silent for <see cref="IdleTimeout"/>
/// is disconnected; a client that vanishes costs nothing.
/// </remarks>
public sealed class ControlServer : IAsyncDisposable
{
    /// <summary>Connections served at the same time.</summary>
    public const int MaxClients = 8;

    private readonly ManagementService _service;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxClients, MaxClients);
    private Socket? _listener;
    private Task? _acceptLoop;

    /// <summary>Creates the server; <see cref="Start"/> opens the socket.</summary>
    /// <param name="host">The server to manage.</param>
    /// <param name="socketPath">Absolute path of the control socket.</param>
    /// <param name="loggers">Where logs go.</param>
    public ControlServer(ServerHost host, string socketPath, ILoggerFactory loggers)
    {
        _service = new ManagementService(host);
        SocketPath = socketPath;
        _log = loggers.CreateLogger("Polynic.Control");
    }

    /// <summary>The control socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>
    /// How long a connection may wait between requests before it is closed, so that clients that
    /// connect and never speak cannot hold all <see cref="MaxClients"/> slots.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Opens the socket and starts answering.</summary>
    /// <exception cref="IOException">The path is served by another live process, or cannot be created.</exception>
    public void Start()
    {
        var directory = Path.GetDirectoryName(SocketPath);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        if (File.Exists(SocketPath))
        {
            if (IsLive(SocketPath)) throw new IOException($"control socket {SocketPath} is in use by another running server");
            File.Delete(SocketPath); // left behind by a server that died
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(16);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"control socket {SocketPath}: {e.Message}", e);
        }
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                await _slots.WaitAsync(_stop.Token);
                client = await _listener!.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            var buffer = new byte[ControlJson.MaxRequestBytes + 1];
            int filled = 0;
            while (!_stop.IsCancellationRequested)
            {
                int newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
                if (newline < 0)
                {
                    if (filled == buffer.Length)
                    {
                        await ReplyAsync(stream, new ControlResponse(false, $"request longer than {ControlJson.MaxRequestBytes} bytes"));
                        return;
                    }
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    idle.CancelAfter(IdleTimeout);
                    int read = await stream.ReadAsync(buffer.AsMemory(filled), idle.Token);
                    if (read == 0) return;
                    filled += read;
                    continue;
                }
                var response = await ExecuteAsync(buffer.AsMemory(0, newline));
                buffer.AsSpan(newline + 1, filled - newline - 1).CopyTo(buffer);
                filled -= newline + 1;
                await ReplyAsync(stream, response);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server is stopping: nothing to answer.
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<ControlResponse> ExecuteAsync(ReadOnlyMemory<byte> line)
    {
        ControlRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<ControlRequest>(line.Span, ControlJson.Options);
        }
        catch (JsonException e)
        {
            return new ControlResponse(false, $"not a request: {e.Message}");
        }
        if (request?.Command is null) return new ControlResponse(false, "not a request: no 'command'");
        _log.LogInformation("Control: {Command} {Argument}", request.Command, request.Path ?? request.Name ?? request.Spec);
        var response = await _service.ExecuteAsync(request, _stop.Token);
        if (!response.Ok) _log.LogWarning("Control: {Command} refused: {Error}", request.Command, response.Error);
        return response;
    }

    private static async Task ReplyAsync(Stream stream, ControlResponse response)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(response, ControlJson.Options);
        await stream.WriteAsync(bytes);
        await stream.WriteAsync(ControlJson.LineEnd);
        await stream.FlushAsync();
    }

    private static bool IsLive(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        if (_acceptLoop is not null) await _acceptLoop;
        try { File.Delete(SocketPath); } catch (IOException) { }
        _stop.Dispose();
    }
}

/// <summary>Sends control requests to a running server (what <c>polynic modules/nics --server</c> use).</summary>
public static class ControlClient
{
    /// <summary>Sends <paramref name="request"/> to the server on <paramref name="socketPath"/> and returns its answer.</summary>
    /// <exception cref="IOException">No server answers on that socket; the message names it.</exception>
    public static async Task<ControlResponse> SendAsync(string socketPath, ControlRequest request, CancellationToken cancellationToken = default)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
        }
        catch (SocketException e)
        {
            throw new IOException($"no Polynic server answers on {socketPath}: {e.Message}", e);
        }
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(request, ControlJson.Options);
        await stream.WriteAsync(bytes, cancellationToken);
        await stream.WriteAsync(ControlJson.LineEnd, cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var line = await reader.ReadLineAsync(cancellationToken)
            ?? throw new IOException($"the server on {socketPath} closed the connection without answering");
        return JsonSerializer.Deserialize<ControlResponse>(line, ControlJson.Options)
            ?? throw new IOException($"the server on {socketPath} sent an empty answer");
    }
}
