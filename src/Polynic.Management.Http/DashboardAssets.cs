using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Polynic.Management.Http;

/// <summary>
/// The web dashboard: static files embedded in this assembly (Dashboard/), served at fixed paths
/// without the token — they hold no data; the page asks /api for everything with the token it
/// is given. Nothing is loaded from elsewhere, and the Content-Security-Policy says so.
/// </summary>
internal static class DashboardAssets
{
    /// <summary>Only this server's own files; no inline script or style, no framing.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly (string Path, string File, string ContentType)[] Files =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/app.css", "app.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "favicon.svg", "image/svg+xml"),
        ("/api.js", "api.js", "text/javascript; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/topology.js", "topology.js", "text/javascript; charset=utf-8"),
        ("/plot.js", "plot.js", "text/javascript; charset=utf-8"),
        ("/panels.js", "panels.js", "text/javascript; charset=utf-8"),
    ];

    /// <summary>The request paths that are dashboard files (served to GET and HEAD without the token).</summary>
    public static FrozenSet<string> Paths { get; } = Files.Select(f => f.Path).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="request"/> asks for a dashboard file: the one kind of request that needs no token.</summary>
    public static bool IsAssetRequest(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && Paths.Contains(request.Path.Value ?? "");

    public static void Map(IEndpointRouteBuilder app)
    {
        var assembly = typeof(DashboardAssets).Assembly;
        foreach (var (path, file, contentType) in Files)
        {
            byte[] content = Read(assembly, file);
            app.MapGet(path, (HttpContext context) =>
            {
                var headers = context.Response.Headers;
                headers.CacheControl = "no-store";
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                return Results.Bytes(content, contentType);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] Read(System.Reflection.Assembly assembly, string file)
    {
        using var stream = assembly.GetManifestResourceStream("Dashboard/" + file)
            ?? throw new InvalidOperationException($"dashboard file {file} is not embedded in {assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
