using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Polynic.Management.Control;
using Polynic.Management.Hosting;

namespace Polynic.Management.Http;

/// <summary>
/// The management API over HTTP (Kestrel, in the <c>polynic serve</c> process): JSON resources for
/// modules, personalities and NICs on the operations of <see cref="ManagementService"/>, an
/// OpenAPI document at <c>/openapi/v1.json</c>, errors as problem+json, the server's metrics
/// for Prometheus at <c>/metrics</c> (<see cref="MetricsEndpoint"/>), and the web dashboard at
/// <c>/</c>. Every request passes <see cref="AccessPolicy"/> first.
/// </summary>
public sealed class HttpApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly AccessToken _token;
    private readonly MeterProvider _metrics;
    private readonly string? _unixSocket;
    private readonly CaptureSessions _captures;

    private HttpApiServer(WebApplication app, AccessToken token, MeterProvider metrics, Uri url, string? unixSocket, CaptureSessions captures)
    {
        _app = app;
        _captures = captures;
        _token = token;
        _metrics = metrics;
        Url = url;
        _unixSocket = unixSocket;
    }

    /// <summary>The API's base address (for a Unix socket: <c>http://localhost/</c>, reached through the socket).</summary>
    public Uri Url { get; }

    /// <summary>
    /// The web dashboard's address with the token in its fragment (<c>/#token=...</c>: a browser
    /// never sends the fragment, and the page removes it from the address bar); null for a Unix
    /// socket, which no browser reaches.
    /// </summary>
    public Uri? DashboardUrl => _unixSocket is null ? new Uri($"{Url}#token={Uri.EscapeDataString(_token.Value)}") : null;

    /// <summary>The file that holds the access token.</summary>
    public string TokenFile => _token.File;

    /// <summary>The access token.</summary>
    public string Token => _token.Value;

    /// <summary>Starts listening.</summary>
    /// <exception cref="FormatException">The listen address is malformed.</exception>
    /// <exception cref="ArgumentException">A non-loopback address without TLS or <see cref="HttpApiOptions.Insecure"/>.</exception>
    /// <exception cref="IOException">The address cannot be bound, or the token or certificate file cannot be used.</exception>
    public static async Task<HttpApiServer> StartAsync(ServerHost host, HttpApiOptions options, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var listen = HttpListenAddress.Parse(options.Listen);
        if (!listen.IsLocalOnly && options.Certificate is null && !options.Insecure)
            throw new ArgumentException($"--http {options.Listen}: other machines could reach this address, and the API loads code into the server; give --http-certificate FILE (PEM with key) for HTTPS, or --http-insecure to serve plain HTTP anyway");
        X509Certificate2? certificate = null;
        if (options.Certificate is { } certificateFile)
        {
            try { certificate = X509Certificate2.CreateFromPemFile(certificateFile); }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException or IOException)
            {
                throw new IOException($"--http-certificate {certificateFile}: {e.Message} (give one PEM file with the certificate and its private key)", e);
            }
        }

        var token = AccessToken.OpenOrCreate(options.TokenFile);
        CaptureSessions? captures = null;
        MeterProvider? metrics = null;
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Polynic", EnvironmentName = "Production" });
            // The framework's own messages go to the server's log, its per-request chatter does not.
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
                kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
                if (listen.UnixSocket is { } path)
                {
                    if (File.Exists(path)) File.Delete(path);
                    kestrel.ListenUnixSocket(path);
                }
                else
                {
                    kestrel.Listen(listen.Address!, listen.Port, l => { if (certificate is not null) l.UseHttps(certificate); });
                }
            });
            builder.Services.ConfigureHttpJsonOptions(json =>
            {
                json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
                json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
                json.SerializerOptions.MaxDepth = 16;
            });
            builder.Services.AddProblemDetails();
            builder.Services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Polynic management API";
                document.Info.Version = "1";
                document.Info.Description = "Modules, personalities and NICs of a running `polynic serve`. Every request needs `Authorization: Bearer TOKEN`.";
                // The address differs per run; the document is checked in (schemas/polynic-api.json).
                document.Servers = [];
                return Task.CompletedTask;
            }));

            var app = builder.Build();
            var policy = new Holder();
            app.Use(async (context, next) =>
            {
                // Until the bound port is known nobody passes: the policy is made right after start.
                var refusal = policy.Value is { } p ? p.Check(context.Request) : Results.Problem("starting", statusCode: StatusCodes.Status503ServiceUnavailable);
                if (refusal is not null)
                {
                    await refusal.ExecuteAsync(context);
                    return;
                }
                await next(context);
            });
            // Errors the framework answers itself (a body that is not JSON, too large, no such
            // route) get a problem+json body too, not an empty page.
            app.UseStatusCodePages();
            app.MapOpenApi("/openapi/{documentName}.json");
            captures = new CaptureSessions(host, options.CaptureDirectory, loggers);
            ApiEndpoints.Map(app, new ManagementService(host), host.Events, captures, app.Lifetime.ApplicationStopping);
            metrics = MetricsEndpoint.CreateProvider(host.Metrics);
            MetricsEndpoint.Map(app, metrics);
            DashboardAssets.Map(app);

            await app.StartAsync(cancellationToken);
            Uri url;
            var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            string scheme = certificate is null ? "http" : "https";
            int anyAddressPort = 0;
            if (listen.UnixSocket is { } socket)
            {
                if (OperatingSystem.IsLinux()) File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                url = new Uri("http://localhost/");
            }
            else
            {
                var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
                int port = new Uri(bound).Port;
                string literal = listen.Address!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
                hosts.Add($"{literal}:{port}");
                if (IPAddress.IsLoopback(listen.Address)) hosts.Add($"localhost:{port}");
                if (listen.Address.Equals(IPAddress.Any) || listen.Address.Equals(IPAddress.IPv6Any)) anyAddressPort = port;
                url = new Uri($"{scheme}://{(listen.IsLocalhostName ? "localhost" : literal)}:{port}/");
            }
            policy.Value = new AccessPolicy(token, scheme, hosts, anyAddressPort);
            return new HttpApiServer(app, token, metrics, url, listen.UnixSocket, captures);
        }
        catch
        {
            captures?.Dispose();
            metrics?.Dispose();
            token.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _captures.Dispose();
        _metrics.Dispose();
        _token.Dispose();
        if (_unixSocket is not null) File.Delete(_unixSocket);
    }

    /// <summary>Hands the framework's loggers out of the server's factory (whose providers and level the CLI chose).</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

        public void Dispose() { }
    }

    /// <summary>The policy is made once the bound port is known; no request is served before.</summary>
    private sealed class Holder
    {
        public AccessPolicy? Value { get; set; }
    }
}
