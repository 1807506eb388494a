using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Management.Http.Tests;

/// <summary>A server host (with no NICs, or as configured) and its HTTP API on a free loopback port; a client that sends the token.</summary>
public sealed class ApiServerFixture : IAsyncDisposable
{
    private ApiServerFixture(string work, ServerHost host, HttpApiServer api)
    {
        Work = work;
        Host = host;
        Api = api;
        Client = new HttpClient { BaseAddress = api.Url, Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Token);
    }

    public string Work { get; }
    public ServerHost Host { get; }
    public HttpApiServer Api { get; }
    public HttpClient Client { get; }

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    public static string E1000Module => Path.Combine(AppContext.BaseDirectory, "Polynic.Personalities.E1000.dll");

    /// <param name="options">The API's options for the work directory; a free loopback port by default.</param>
    /// <param name="configuration">What the host serves from the start, for the work directory (the e1000 module is loaded first); nothing by default.</param>
    public static async Task<ApiServerFixture> StartAsync(Func<string, HttpApiOptions>? options = null, Func<string, PolynicConfiguration>? configuration = null)
    {
        string work = Directory.CreateTempSubdirectory("polynic-http-").FullName;
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(work, "cache") });
        if (configuration is not null) catalog.Load(E1000Module);
        var host = await ServerHost.StartAsync(configuration?.Invoke(work) ?? new PolynicConfiguration("test", null, [], []), catalog, NullLoggerFactory.Instance);
        try
        {
            var api = await HttpApiServer.StartAsync(host, options?.Invoke(work) ?? new HttpApiOptions { Listen = "127.0.0.1:0", TokenFile = Path.Combine(work, "token") }, NullLoggerFactory.Instance);
            return new ApiServerFixture(work, host, api);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>The NICs the server serves, asked with the token.</summary>
    public async Task<List<string>> NicNamesAsync()
    {
        var nics = await Client.GetFromJsonAsync<JsonElement>("api/v1/nics");
        return nics.EnumerateArray().Select(n => n.GetProperty("name").GetString()!).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Api.DisposeAsync();
        await Host.DisposeAsync();
        Directory.Delete(Work, recursive: true);
    }
}
