namespace Polynic.Cli.Serving;

/// <summary>
/// One device to serve, as written on the command line: <c>KIND:SOCKET[,key=value...]</c>,
/// e.g. <c>diagnostic:/run/polynic/diag0.sock</c>.
/// </summary>
internal sealed record DeviceSpec(string Kind, string SocketPath, IReadOnlyDictionary<string, string> Settings)
{
    public static DeviceSpec Parse(string text)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new FormatException($"'{text}' is not KIND:SOCKET[,key=value...] (for example diagnostic:/tmp/diag0.sock).");
        var kind = text[..colon];
        var parts = text[(colon + 1)..].Split(',');
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{part}' in '{text}' is not key=value.");
            settings[part[..eq]] = part[(eq + 1)..];
        }
        if (!Path.IsPathRooted(parts[0])) throw new FormatException($"socket path '{parts[0]}' in '{text}' must be absolute.");
        return new DeviceSpec(kind, parts[0], settings);
    }
}
