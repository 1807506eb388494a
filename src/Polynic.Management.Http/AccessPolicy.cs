using Microsoft.AspNetCore.Http;

namespace Polynic.Management.Http;

/// <summary>
/// Who may use the API, checked before any endpoint runs, in this order: the Host header must
/// name the address the server is bound to (a page on another site that re-points its own name
/// at 127.0.0.1 — DNS rebinding — sends its own name, and is refused with 421); a browser request
/// from a page of another origin is refused (403); and the request must carry the token (401).
/// Nothing is read from the request body before all three pass.
/// </summary>
internal sealed class AccessPolicy(AccessToken token, IReadOnlySet<string> hosts, IReadOnlySet<string> origins)
{
    /// <summary>The problem a refused request gets, or null when it may go on.</summary>
    public IResult? Check(HttpRequest request)
    {
        // Over a Unix socket no browser can reach the server, and the host part is whatever the client wrote.
        if (hosts.Count > 0 && !hosts.Contains(request.Host.Value ?? ""))
            return Problem(StatusCodes.Status421MisdirectedRequest, "Host not served",
                $"this server answers to {string.Join(" or ", hosts.Order(StringComparer.Ordinal))}, not '{request.Host.Value}' (requests that name another host are refused: DNS rebinding)");
        if (request.Headers.Origin is { Count: > 0 } origin && !origins.Contains(origin.ToString()))
            return Problem(StatusCodes.Status403Forbidden, "Cross-origin request refused",
                $"requests from pages of '{origin}' are refused; only {string.Join(" or ", origins.Order(StringComparer.Ordinal))} may use this API");
        string? authorization = request.Headers.Authorization;
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || !token.Matches(authorization.AsSpan(scheme.Length).Trim()))
            return Problem(StatusCodes.Status401Unauthorized, "Token required",
                $"send 'Authorization: Bearer TOKEN' with the token from {token.File}");
        return null;
    }

    private static IResult Problem(int status, string title, string detail) => Results.Problem(detail, statusCode: status, title: title);
}
