using System.Text;
using System.Text.Json;

namespace Polynic.Transport.VfioUser.Protocol;

/// <summary>
/// The JSON capabilities exchanged in VFIO_USER_VERSION (spec, "VFIO_USER_VERSION"):
/// <c>{"capabilities":{"max_msg_fds":N,"max_data_xfer_size":N,...}}</c>, NUL-terminated.
/// </summary>
internal readonly record struct VersionCapabilities(int MaxMessageFds, int MaxDataTransferSize)
{
    /// <summary>Spec defaults when the sender leaves a capability out.</summary>
    public static VersionCapabilities Defaults => new(1, 1024 * 1024);

    /// <summary>
    /// Parses a client's capability JSON (without the terminating NUL). Unknown members are
    /// ignored; known ones with the wrong type or range are an error.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out VersionCapabilities capabilities, out string? error)
    {
        capabilities = Defaults;
        error = null;
        if (json.IsEmpty) return true;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object) { error = "version data is not a JSON object"; return false; }
            if (!document.RootElement.TryGetProperty("capabilities", out var caps)) return true;
            if (caps.ValueKind != JsonValueKind.Object) { error = "\"capabilities\" is not an object"; return false; }

            int fds = capabilities.MaxMessageFds, xfer = capabilities.MaxDataTransferSize;
            if (caps.TryGetProperty("max_msg_fds", out var f) && !TryPositive(f, out fds)) { error = "malformed max_msg_fds"; return false; }
            if (caps.TryGetProperty("max_data_xfer_size", out var x) && !TryPositive(x, out xfer)) { error = "malformed max_data_xfer_size"; return false; }
            capabilities = new VersionCapabilities(fds, xfer);
            return true;
        }
        catch (JsonException e)
        {
            error = $"capabilities are not valid JSON: {e.Message}";
            return false;
        }
    }

    /// <summary>The server's reply JSON, UTF-8 with the terminating NUL the spec asks for.</summary>
    public static byte[] FormatReply(int maxMessageFds, int maxDataTransferSize, int maxDmaMaps, int pageSizes)
    {
        // Only capabilities QEMU proposes: the reply's list "must be a subset of those proposed".
        // Migration and write_multiple are not offered.
        string json = $"{{\"capabilities\":{{\"max_msg_fds\":{maxMessageFds},\"max_data_xfer_size\":{maxDataTransferSize},\"pgsizes\":{pageSizes},\"max_dma_maps\":{maxDmaMaps}}}}}";
        var bytes = new byte[Encoding.UTF8.GetByteCount(json) + 1];
        Encoding.UTF8.GetBytes(json, bytes);
        return bytes;
    }

    private static bool TryPositive(JsonElement element, out int value)
    {
        value = 0;
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long v) || v <= 0) return false;
        value = (int)Math.Min(v, int.MaxValue);
        return true;
    }
}
