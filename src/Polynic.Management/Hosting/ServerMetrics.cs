using System.Diagnostics.Metrics;
using Polynic.Core.Nic;

namespace Polynic.Management.Hosting;

/// <summary>
/// Every counter a <see cref="ServerHost"/>'s NICs, ports, switches and vfio-user servers keep, as
/// <see cref="System.Diagnostics.Metrics"/> instruments of one <see cref="Meter"/> named
/// <see cref="MeterName"/>. Each instrument is observable: its callback reads the existing counters
/// when a listener (the <c>/metrics</c> exporter) collects, so the frame path does nothing more
/// because metrics are on. The callbacks read <see cref="ServerHost.Functions"/> and
/// <see cref="ServerHost.Switches"/> at collection time, so a NIC added or removed at run time
/// appears in or leaves the next collection.
/// </summary>
/// <remarks>
/// Names follow OpenTelemetry's style (<c>polynic.nic.received_frames</c>, unit <c>By</c> for
/// bytes); a Prometheus exporter turns them into <c>polynic_nic_received_frames_total</c>. Each
/// NIC counter's description begins with its <see cref="NicCounters.Snapshot"/> name, so the
/// metric, the API's counters and the log line at stop can be matched.
/// </remarks>
public sealed partial class ServerMetrics : IDisposable
{
    /// <summary>The name of the meter (one per server host).</summary>
    public const string MeterName = "Polynic";

    private readonly ServerHost _host;

    internal ServerMetrics(ServerHost host)
    {
        _host = host;
        Meter = new Meter(MeterName);
        foreach (var c in NicCounterMetrics)
            Meter.CreateObservableCounter(c.Metric, () => PerNic(c.Read), c.Unit, $"{c.Snapshot}: {c.Description}");
        CreateTransportInstruments();
        CreatePortInstruments();
        CreateSwitchInstruments();
    }

    /// <summary>
    /// The meter. Several hosts in one process (tests) each have their own meter of the same name,
    /// so an exporter selects this instance (<see cref="Instrument.Meter"/>), not the name.
    /// </summary>
    public Meter Meter { get; }

    /// <summary>One NIC core counter: its snapshot name, its metric name, unit, description and how to read it.</summary>
    internal sealed record NicCounterMetric(string Snapshot, string Metric, string Unit, string Description, Func<NicCounters, long> Read);

    /// <summary>Every <see cref="NicCounters"/> field, labelled <c>nic</c> and <c>personality</c>; a test checks the list against <see cref="NicCounters.Snapshot"/>.</summary>
    internal static readonly NicCounterMetric[] NicCounterMetrics =
    [
        new("tx_frames", "polynic.nic.transmitted_frames", "{frame}", "frames the NIC transmitted (taken by the port, or looped back).", c => Interlocked.Read(ref c.TxFrames)),
        new("tx_bytes", "polynic.nic.transmitted", "By", "bytes of the transmitted frames.", c => Interlocked.Read(ref c.TxBytes)),
        new("tx_errors", "polynic.nic.transmit_errors", "{error}", "transmit attempts that failed inside the device (malformed descriptors, offload refused).", c => Interlocked.Read(ref c.TxErrors)),
        new("tx_dropped", "polynic.nic.transmit_dropped_frames", "{frame}", "frames the port refused or found no port or link for.", c => Interlocked.Read(ref c.TxDropped)),
        new("tx_segments", "polynic.nic.transmitted_segments", "{segment}", "segments the NIC's TSO/GSO frames yielded, whoever cut them.", c => Interlocked.Read(ref c.TxSegments)),
        new("rx_frames", "polynic.nic.received_frames", "{frame}", "frames delivered to the guest.", c => Interlocked.Read(ref c.RxFrames)),
        new("rx_bytes", "polynic.nic.received", "By", "bytes of the frames delivered to the guest.", c => Interlocked.Read(ref c.RxBytes)),
        new("rx_broadcast", "polynic.nic.received_broadcast_frames", "{frame}", "delivered frames with the broadcast destination.", c => Interlocked.Read(ref c.RxBroadcast)),
        new("rx_multicast", "polynic.nic.received_multicast_frames", "{frame}", "delivered frames with a group destination other than broadcast.", c => Interlocked.Read(ref c.RxMulticast)),
        new("rx_no_buffer", "polynic.nic.receive_no_buffer_frames", "{frame}", "frames dropped because the guest had no receive buffer.", c => Interlocked.Read(ref c.RxNoBuffer)),
        new("rx_filtered", "polynic.nic.receive_filtered_frames", "{frame}", "frames the receive filter rejected (address or VLAN).", c => Interlocked.Read(ref c.RxFiltered)),
        new("rx_too_long", "polynic.nic.receive_too_long_frames", "{frame}", "frames longer than the device accepts.", c => Interlocked.Read(ref c.RxTooLong)),
        new("rx_too_short", "polynic.nic.receive_too_short_frames", "{frame}", "frames shorter than an Ethernet header.", c => Interlocked.Read(ref c.RxTooShort)),
        new("rx_disabled", "polynic.nic.receive_disabled_frames", "{frame}", "frames that arrived while the receiver was disabled.", c => Interlocked.Read(ref c.RxDisabled)),
        new("rx_gso_frames", "polynic.nic.received_gso_frames", "{frame}", "GSO frames handed to the guest whole.", c => Interlocked.Read(ref c.RxGsoFrames)),
        new("rx_segments", "polynic.nic.received_segments", "{segment}", "segments the core cut from received GSO frames for the guest.", c => Interlocked.Read(ref c.RxSegments)),
        new("rx_offload_errors", "polynic.nic.receive_offload_errors", "{frame}", "received frames dropped because their offload description could not be honoured.", c => Interlocked.Read(ref c.RxOffloadErrors)),
        new("dma_faults", "polynic.nic.dma_faults", "{fault}", "guest memory accesses for frame data that failed.", c => Interlocked.Read(ref c.DmaFaults)),
        new("descriptor_faults", "polynic.nic.descriptor_faults", "{fault}", "malformed or unreadable descriptors and bad ring indices.", c => Interlocked.Read(ref c.DescriptorFaults)),
        new("unknown_register_accesses", "polynic.nic.unknown_register_accesses", "{access}", "register accesses to undeclared offsets.", c => Interlocked.Read(ref c.UnknownRegisterAccesses)),
    ];

    private void CreateTransportInstruments()
    {
        Meter.CreateObservableGauge("polynic.vfio_user.client_connected", () => PerFunction(f => f.Server.IsClientConnected ? 1 : 0),
            null, "1 while a VMM is connected to the NIC's vfio-user socket, else 0.");
        Meter.CreateObservableCounter("polynic.vfio_user.clients_served", () => PerFunction(f => f.Server.ClientsServed),
            "{client}", "VMM connections the NIC's vfio-user server accepted.");
        Meter.CreateObservableCounter("polynic.pci.refused_dma_accesses", () => PerFunction(f => f.Function.RefusedDmaCount),
            "{access}", "DMA accesses refused because bus mastering was off or no VMM was connected.");
        Meter.CreateObservableCounter("polynic.pci.dropped_interrupts", () => PerFunction(f => f.Function.Interrupts.DroppedCount),
            "{interrupt}", "interrupts that could not be delivered (bad source, bus mastering off, no VMM).");
        Meter.CreateObservableGauge("polynic.nic.failed", () => PerFunction(f => f.FailureReason is null ? 0 : 1),
            null, "1 once the device threw and was taken out of service, else 0.");
    }

    private IEnumerable<Measurement<long>> PerNic(Func<NicCounters, long> read)
    {
        foreach (var f in _host.Functions)
            if (f.Nic is { } nic) yield return new Measurement<long>(read(nic.Counters), NicTags(f));
    }

    private IEnumerable<Measurement<long>> PerFunction(Func<ServedFunction, long> read)
    {
        foreach (var f in _host.Functions) yield return new Measurement<long>(read(f), NicTags(f));
    }

    private static KeyValuePair<string, object?>[] NicTags(ServedFunction f) => [new("nic", f.Name), new("personality", f.Personality)];

    /// <summary>Ends every instrument; listeners stop seeing them.</summary>
    public void Dispose() => Meter.Dispose();
}
