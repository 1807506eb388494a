using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Polynic.Rig.Guests;

/// <summary>
/// A minimal QMP client over QEMU's unix socket: greeting, qmp_capabilities, then one
/// command at a time. Asynchronous events arriving in between are skipped.
/// </summary>
internal sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly StreamReader reader;

    private QmpClient(Socket socket)
    {
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: true);
        reader = new StreamReader(stream, Encoding.UTF8);
    }

    /// <summary>Connects (QEMU creates the socket shortly after start) and negotiates capabilities.</summary>
    public static async Task<QmpClient> ConnectAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), deadline.Token).ConfigureAwait(false);
                var client = new QmpClient(socket);
                await client.ReadMessageAsync(deadline.Token).ConfigureAwait(false); // greeting
                await client.ExecuteAsync("""{"execute":"qmp_capabilities"}""", deadline.Token).ConfigureAwait(false);
                return client;
            }
            catch (SocketException)
            {
                socket.Dispose();
                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends one command and returns its "return" value; throws on a QMP "error".</summary>
    public async Task<JsonElement> ExecuteAsync(string commandJson, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(commandJson.Trim() + "\n");
        await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            using var message = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            var rootElement = message.RootElement;
            if (rootElement.TryGetProperty("return", out var result)) return result.Clone();
            if (rootElement.TryGetProperty("error", out var error))
                throw new GuestException($"QMP command {commandJson} failed: {error.GetRawText()}");
            // Anything else is an event ({"event": ...}); the reply is still to come.
        }
    }

    private async Task<JsonDocument> ReadMessageAsync(CancellationToken cancellationToken)
    {
        var line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new GuestException("QEMU closed the QMP connection.");
        return JsonDocument.Parse(line);
    }

    public ValueTask DisposeAsync()
    {
        reader.Dispose();
        socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
