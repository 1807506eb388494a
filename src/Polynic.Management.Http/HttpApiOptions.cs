using System.Net;

namespace Polynic.Management.Http;

/// <summary>
/// Where and how the HTTP API listens. The API loads code into the server, so it is as powerful
/// as root on the host: it listens on loopback or a Unix socket unless told otherwise, every
/// request needs the token, and a non-loopback address needs TLS or an explicit opt-out.
/// </summary>
public sealed record HttpApiOptions
{
    /// <summary>
    /// <c>HOST:PORT</c> with HOST an IP address or <c>localhost</c> (port 0 picks a free one), or
    /// <c>unix:/path</c>.
    /// </summary>
    public required string Listen { get; init; }

    /// <summary>
    /// The token file: read if it exists (it must be a private 0600 file of this user), created
    /// with a new token otherwise. Null: a new token in a file of the runtime directory, removed
    /// at stop.
    /// </summary>
    public string? TokenFile { get; init; }

    /// <summary>A PEM file with the certificate and its private key: serve HTTPS.</summary>
    public string? Certificate { get; init; }

    /// <summary>Allow plain HTTP on a non-loopback address (the token then crosses the network in clear).</summary>
    public bool Insecure { get; init; }

    /// <summary>
    /// Where captures started through the API write their files (created 0700; refused if another
    /// user could change it). The files stay after the server stops.
    /// </summary>
    public string CaptureDirectory { get; init; } = DefaultCaptureDirectory;

    /// <summary>The default <see cref="CaptureDirectory"/>.</summary>
    public const string DefaultCaptureDirectory = "/var/tmp/polynic/captures";

    /// <summary>Longest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 64 * 1024;
}

/// <summary>A parsed <see cref="HttpApiOptions.Listen"/> value.</summary>
/// <param name="Address">The IP address to bind; null for a Unix socket.</param>
/// <param name="Port">The TCP port (0: any free one).</param>
/// <param name="UnixSocket">The Unix socket path; null for TCP.</param>
/// <param name="IsLocalhostName">Given as <c>localhost</c>: bound to 127.0.0.1.</param>
public sealed record HttpListenAddress(IPAddress? Address, int Port, string? UnixSocket, bool IsLocalhostName)
{
    /// <summary>Whether only this machine can connect.</summary>
    public bool IsLocalOnly => UnixSocket is not null || IPAddress.IsLoopback(Address!);

    /// <summary>Parses <c>HOST:PORT</c>, <c>[IPv6]:PORT</c> or <c>unix:/absolute/path</c>.</summary>
    /// <exception cref="FormatException">Anything else, with what is expected.</exception>
    public static HttpListenAddress Parse(string value)
    {
        const string expected = "give 127.0.0.1:PORT, [::1]:PORT, localhost:PORT, another IP address and port, or unix:/absolute/path";
        if (string.IsNullOrWhiteSpace(value)) throw new FormatException($"--http: empty; {expected}");
        if (value.StartsWith("unix:", StringComparison.Ordinal))
        {
            string path = value["unix:".Length..];
            if (!Path.IsPathRooted(path)) throw new FormatException($"--http {value}: the Unix socket path must be absolute; {expected}");
            return new HttpListenAddress(null, 0, path, false);
        }
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new FormatException($"--http {value}: no port; {expected}");
        string host = value[..colon];
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return new HttpListenAddress(IPAddress.Loopback, port, null, true);
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!IPAddress.TryParse(host, out var address))
            throw new FormatException($"--http {value}: '{host}' is not an IP address (names other than localhost are not resolved); {expected}");
        return new HttpListenAddress(address, port, null, false);
    }
}
