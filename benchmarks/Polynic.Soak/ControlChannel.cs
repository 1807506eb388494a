using System.Text.Json;
using Polynic.Management.Control;

namespace Polynic.Soak;

/// <summary>The server's control socket, spoken to as <c>polynic nics ... --server</c> does; refusals are counted, not thrown.</summary>
internal sealed class ControlChannel(string socketPath, SoakCounters counters, Action<string> log)
{
    public async Task<JsonElement?> SendAsync(ControlRequest request)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var response = await ControlClient.SendAsync(socketPath, request, timeout.Token);
            if (response.Ok) return response.Result is null ? default(JsonElement) : JsonSerializer.SerializeToElement(response.Result);
            log($"control: {request.Command} {request.Name ?? request.Spec} refused: {response.Error}");
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or JsonException)
        {
            log($"control: {request.Command} failed: {e.Message}");
        }
        Interlocked.Increment(ref counters.ControlRefusals);
        return null;
    }

    public Task<JsonElement?> FaultsAsync(string nic, string spec) => SendAsync(new ControlRequest(ControlCommands.NicsFaults, Name: nic, Spec: spec));

    /// <summary>The NICs the server lists (name → connected), or null when it did not answer.</summary>
    public async Task<Dictionary<string, (string State, bool Connected)>?> ListAsync()
    {
        var list = await SendAsync(new ControlRequest(ControlCommands.NicsList));
        if (list is not { ValueKind: JsonValueKind.Array } array) return null;
        return array.EnumerateArray().ToDictionary(
            n => n.GetProperty("name").GetString()!,
            n => (n.GetProperty("state").GetString() ?? "?", n.TryGetProperty("connected", out var c) && c.GetBoolean()));
    }
}
