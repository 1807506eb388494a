using System.Net.Http.Headers;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Management.Http;
using Polynic.Modules;

namespace Polynic.Benchmarks;

/// <summary>
/// With <c>POLYNIC_BENCH_SCRAPE=1</c> (BenchmarkDotNet: <c>--envVars POLYNIC_BENCH_SCRAPE:1</c>), a
/// frame benchmark runs beside a served <c>/metrics</c> that a thread scrapes every second: a
/// server host in the benchmark's process (an e1000 from its module on a switch) with its HTTP
/// API, so the scrape's callbacks, serialisation, HTTP and garbage run on the other core while
/// the frame path is measured. Off (null) otherwise.
/// </summary>
internal sealed class ScrapeLoop : IDisposable
{
    private readonly string _work;
    private readonly ServerHost _host;
    private readonly HttpApiServer _api;
    private readonly Thread _thread;
    private readonly Thread _events;
    private readonly CancellationTokenSource _stop = new();
    private int _eventsRead;
    private int _scrapes;
    private int _failures;

    private ScrapeLoop(string work, ServerHost host, HttpApiServer api)
    {
        _work = work;
        _host = host;
        _api = api;
        _thread = new Thread(Run) { IsBackground = true, Name = "metrics scrape" };
        _thread.Start();
        _events = new Thread(FollowEvents) { IsBackground = true, Name = "event stream" };
        _events.Start();
    }

    public static ScrapeLoop? StartIfAsked()
    {
        if (Environment.GetEnvironmentVariable("POLYNIC_BENCH_SCRAPE") != "1") return null;
        string work = Directory.CreateTempSubdirectory("polynic-bench-scrape-").FullName;
        var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(work, "cache") });
        catalog.Load(Path.Combine(AppContext.BaseDirectory, "Polynic.Personalities.E1000.dll"));
        var configuration = new PolynicConfiguration("bench", null, [new SwitchConfiguration("lan", TimeSpan.FromMinutes(5))],
            [new NicConfiguration("scraped", "e1000", Path.Combine(work, "nic.sock"), MacAddress.Parse("52:54:00:00:00:42"), [],
                new SwitchPortConfiguration("lan", 1, null), null, 0)]);
        var host = ServerHost.StartAsync(configuration, catalog, NullLoggerFactory.Instance).GetAwaiter().GetResult();
        var api = HttpApiServer.StartAsync(host, new HttpApiOptions { Listen = "127.0.0.1:0", TokenFile = Path.Combine(work, "token") }, NullLoggerFactory.Instance)
            .GetAwaiter().GetResult();
        return new ScrapeLoop(work, host, api);
    }

    private void Run()
    {
        using var client = new HttpClient { BaseAddress = _api.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _api.Token);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                string text = client.GetStringAsync("metrics", _stop.Token).GetAwaiter().GetResult();
                if (text.Contains("polynic_nic_received_frames_total", StringComparison.Ordinal)) _scrapes++;
                else _failures++;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                if (!_stop.IsCancellationRequested) _failures++;
            }
            _stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Holds GET /api/v1/events open as the dashboard does, reading whatever comes.</summary>
    private void FollowEvents()
    {
        using var client = new HttpClient { BaseAddress = _api.Url, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _api.Token);
        try
        {
            using var stream = client.GetStreamAsync("api/v1/events", _stop.Token).GetAwaiter().GetResult();
            using var reader = new StreamReader(stream);
            while (reader.ReadLineAsync(_stop.Token).AsTask().GetAwaiter().GetResult() is { } line)
                if (line.StartsWith("event: ", StringComparison.Ordinal)) _eventsRead++;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _events.Join();
        Console.WriteLine($"// metrics scrape loop: {_scrapes} scrapes, {_failures} failed; event stream open throughout, {_eventsRead} events read");
        _api.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_work, recursive: true);
    }
}
