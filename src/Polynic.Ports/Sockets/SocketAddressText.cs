using System.Net;
using System.Net.Sockets;

namespace Polynic.Ports.Sockets;

/// <summary>Endpoints as they appear in port names and logs ("127.0.0.1:5555", "[::1]:5555", "unix:/run/x.sock").</summary>
internal static class SocketAddressText
{
    public static string Describe(EndPoint? endPoint) => endPoint switch
    {
        null => "(unknown)",
        IPEndPoint ip => ip.ToString(),
        UnixDomainSocketEndPoint unix => "unix:" + Printable(unix.ToString()),
        _ => endPoint.ToString() ?? "(unknown)",
    };

    public static ProtocolType Protocol(EndPoint endPoint, SocketType type) => endPoint is UnixDomainSocketEndPoint
        ? ProtocolType.Unspecified
        : type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp;

    /// <summary>The file-system path of a UNIX endpoint, or null for IP and abstract names.</summary>
    public static string? UnixPath(EndPoint endPoint) =>
        endPoint is UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } path && path[0] is not ('\0' or '@')
            ? path
            : null;

    /// <summary>
    /// Removes a stale socket file left at <paramref name="path"/> by an earlier process (bind would
    /// fail with EADDRINUSE), as QEMU does before binding; anything that is not a socket is left alone.
    /// </summary>
    public static void RemoveStaleSocket(string? path)
    {
        if (path is null || !SocketCalls.IsSocketFile(path)) return;
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Printable(string path) => path.Length > 0 && path[0] == '\0' ? "@" + path[1..] : path;
}
