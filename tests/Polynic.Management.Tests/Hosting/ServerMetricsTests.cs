using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Management.Tests.Hosting;

/// <summary>The host's metrics cover every NIC counter, read them as they are, and end with the host.</summary>
public sealed class ServerMetricsTests
{
    [Fact]
    public void Every_nic_counter_has_one_metric_that_reads_it()
    {
        var counters = new NicCounters();
        var fields = typeof(NicCounters).GetFields().Where(f => f.FieldType == typeof(long)).ToList();
        for (int i = 0; i < fields.Count; i++) fields[i].SetValue(counters, 1000L + i);

        var snapshot = counters.Snapshot();
        Assert.Equal(snapshot.Select(c => c.Key).Order(), ServerMetrics.NicCounterMetrics.Select(m => m.Snapshot).Order());
        foreach (var (name, value) in snapshot)
            Assert.Equal(value, ServerMetrics.NicCounterMetrics.Single(m => m.Snapshot == name).Read(counters));
        Assert.Equal(ServerMetrics.NicCounterMetrics.Length, ServerMetrics.NicCounterMetrics.Select(m => m.Metric).Distinct().Count());
    }

    [Fact]
    public async Task The_host_owns_one_meter_that_ends_with_it()
    {
        string work = Directory.CreateTempSubdirectory("polynic-metrics-").FullName;
        try
        {
            var catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(work, "cache") });
            var host = await ServerHost.StartAsync(new PolynicConfiguration("test", null, [], []), catalog, NullLoggerFactory.Instance);
            var published = new List<Instrument>();
            using var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) => { if (instrument.Meter == host.Metrics.Meter) lock (published) published.Add(instrument); },
            };
            listener.Start();
            Assert.Equal(ServerMetrics.MeterName, host.Metrics.Meter.Name);
            Assert.Contains(published, i => i.Name == "polynic.nic.received_frames");

            await host.DisposeAsync();
            // A disposed meter's instruments are gone: a new listener sees none of them.
            var after = new List<Instrument>();
            using var late = new MeterListener { InstrumentPublished = (instrument, _) => { if (instrument.Meter == host.Metrics.Meter) after.Add(instrument); } };
            late.Start();
            Assert.Empty(after);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
