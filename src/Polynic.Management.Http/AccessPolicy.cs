using Microsoft.AspNetCore.Http;

namespace Polynic.Management.Http;

/// <summary>
/// Who may use the API, checked before any endpoint runs, in this order: the Host header must
/// name the address the server is bound to (a page on another site that re-points its own name
/// at 127.0.0.1 — DNS rebinding — sends its own name, and is refused with 421); a browser request
/// from a page of another origin is refused (403); and the request must carry the token (401),
/// except a GET of one of the dashboard's static files (<see cref="DashboardAssets"/>), which hold
/// no data. Nothing is read from the request body before all three pass.
/// </summary>
/// <param name="token">The token.</param>
/// <param name="scheme">http or https.</param>
/// <param name="hosts">The Host values served (address:port, localhost:port for loopback); empty for a Unix socket, which no browser reaches.</param>
/// <param name="port">For an unspecified address (0.0.0.0, ::): any IP-address literal with this port is served, as DNS rebinding always needs a name; else 0.</param>
internal sealed class AccessPolicy(AccessToken token, string scheme, IReadOnlySet<string> hosts, int port)
{
    /// <summary>The problem a refused request gets, or null when it may go on.</summary>
    public IResult? Check(HttpRequest request)
    {
        string host = request.Host.Value ?? "";
        if (hosts.Count > 0 && !hosts.Contains(host) && !IsAddressLiteral(request.Host))
            return Problem(StatusCodes.Status421MisdirectedRequest, "Host not served",
                $"this server answers to {string.Join(" or ", hosts.Order(StringComparer.Ordinal))}{(port != 0 ? " or any IP address of this machine" : "")}, not '{host}' (requests that name another host are refused: DNS rebinding)");
        // Same origin only: the page must come from this very server, under the name this request uses.
        string own = $"{scheme}://{(hosts.Count > 0 ? host : "localhost")}";
        if (request.Headers.Origin is { Count: > 0 } origin && !string.Equals(origin.ToString(), own, StringComparison.OrdinalIgnoreCase))
            return Problem(StatusCodes.Status403Forbidden, "Cross-origin request refused",
                $"requests from pages of '{origin}' are refused; only pages of {own} may use this API");
        if (DashboardAssets.IsAssetRequest(request)) return null;
        string? authorization = request.Headers.Authorization;
        const string bearer = "Bearer ";
        if (authorization is null || !authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) || !token.Matches(authorization.AsSpan(bearer.Length).Trim()))
            return Problem(StatusCodes.Status401Unauthorized, "Token required",
                $"send 'Authorization: Bearer TOKEN' with the token from {token.File}");
        return null;
    }

    private bool IsAddressLiteral(HostString host) =>
        port != 0 && host.Port == port && System.Net.IPAddress.TryParse(host.Host.Trim('[', ']'), out _);

    private static IResult Problem(int status, string title, string detail) => Results.Problem(detail, statusCode: status, title: title);
}
