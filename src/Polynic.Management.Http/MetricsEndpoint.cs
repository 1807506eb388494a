using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Polynic.Management.Hosting;

namespace Polynic.Management.Http;

/// <summary>
/// <c>GET /metrics</c>: the host's <see cref="ServerMetrics"/> in the Prometheus text format, written
/// by OpenTelemetry's Prometheus exporter. It is an endpoint of the API's app, so it passes the same
/// <see cref="AccessPolicy"/>; it is left out of the OpenAPI document (it is not JSON).
/// </summary>
internal static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>A meter provider that collects only this host's meter (other hosts in the process have meters of the same name).</summary>
    public static MeterProvider CreateProvider(ServerMetrics metrics) =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(ServerMetrics.MeterName)
            .AddView(instrument => ReferenceEquals(instrument.Meter, metrics.Meter) ? null : MetricStreamConfiguration.Drop)
            .AddPrometheusExporter(o =>
            {
                o.ScrapeEndpointPath = Path;
                // Every scrape reads the counters now: the callbacks are cheap, and a cached answer would lag the API's.
                o.ScrapeResponseCacheDurationMilliseconds = 0;
                // One process, one meter: the resource's target_info and the otel_scope_* labels would only repeat "Polynic".
                o.TargetInfoEnabled = false;
                o.ScopeInfoEnabled = false;
            })
            .Build();

    public static void Map(IEndpointRouteBuilder app, MeterProvider provider) =>
        app.MapPrometheusScrapingEndpoint(Path, provider, configureBranchedPipeline: null, optionsName: null)
            .ExcludeFromDescription();
}
