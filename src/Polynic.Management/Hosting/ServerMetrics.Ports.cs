using System.Diagnostics.Metrics;
using Polynic.Core.Nic;
using Polynic.Ports;
using Polynic.Ports.Capture;
using Polynic.Ports.Faults;
using Polynic.Ports.Loopback;
using Polynic.Ports.Sockets;
using Polynic.Ports.Switching;
using Polynic.Ports.Tap;

namespace Polynic.Management.Hosting;

/// <summary>The ports' part: each NIC's port stack (capture, fault injection, the port itself) and the switches.</summary>
public sealed partial class ServerMetrics
{
    private void CreatePortInstruments()
    {
        PortCounter("polynic.port.sent_frames", "{frame}", "frames the port handed to its peer.", c => c.FramesSent);
        PortCounter("polynic.port.sent", "By", "bytes of the frames the port handed to its peer.", c => c.BytesSent);
        PortCounter("polynic.port.received_frames", "{frame}", "frames the port delivered to its NIC.", c => c.FramesReceived);
        PortCounter("polynic.port.received", "By", "bytes of the frames the port delivered to its NIC.", c => c.BytesReceived);
        PortCounter("polynic.port.send_failures", "{frame}", "sends that failed: link down, offload refused, kernel error, full queue.", c => c.SendFailures);
        PortCounter("polynic.port.receive_errors", "{frame}", "received frames dropped (runts, read errors, a receiver that threw).", c => c.ReceiveErrors);
        PortCounter("polynic.port.receive_header_errors", "{frame}", "received frames dropped because their offload header did not describe them (also receive errors).", c => c.ReceiveHeaderErrors);

        PortLayer<StreamPort>("polynic.port.stream_connections", "{connection}", "peers a stream port accepted or connections it made.", s => s.StreamCounters.Connections);
        PortLayer<StreamPort>("polynic.port.stream_protocol_errors", "{connection}", "stream connections cut because the peer announced a frame over the limit.", s => s.StreamCounters.ProtocolErrors);
        PortLayer<StreamPort>("polynic.port.stream_backlogged_sends", "{frame}", "frames that waited in a stream port's send backlog.", s => s.StreamCounters.BackloggedSends);
        PortLayer<StreamPort>("polynic.port.stream_backlog_dropped_frames", "{frame}", "frames dropped because the socket and the send backlog were full.", s => s.StreamCounters.BacklogDrops);

        PortLayer<CapturePort>("polynic.capture.queued_frames", "{frame}", "frames handed to the capture writer, both directions.", c => c.Counters.FramesQueued);
        PortLayer<CapturePort>("polynic.capture.dropped_frames", "{frame}", "frames left out of the capture (writer queue full or writer failed); they still passed.", c => c.Counters.FramesDropped);

        Meter.CreateObservableCounter("polynic.fault.injected_frames", InjectedFaults, "{frame}",
            "frames fault injection acted on, by direction (outbound: sent by the NIC) and fault (dropped, corrupted, delayed, queue_full, link_down).");
        PortLayer<FaultInjectionPort>("polynic.fault.link_transitions", "{transition}", "link changes fault injection reported to the NIC.", f => f.Counters.LinkTransitions);
    }

    private void CreateSwitchInstruments()
    {
        SwitchCounter("polynic.switch.mac_entries_learned", "{entry}", "addresses entered into the MAC table.", c => c.Learned);
        SwitchCounter("polynic.switch.mac_entries_moved", "{entry}", "learned addresses that reappeared on another port.", c => c.Moved);
        SwitchCounter("polynic.switch.mac_entries_aged", "{entry}", "MAC table entries removed for age.", c => c.Aged);
        SwitchCounter("polynic.switch.mac_entries_evicted", "{entry}", "MAC table entries removed to make room.", c => c.Evicted);
        SwitchCounter("polynic.switch.flooded_frames", "{frame}", "frames sent to every other port of their VLAN.", c => c.Flooded);
        SwitchCounter("polynic.switch.filtered_frames", "{frame}", "unicast frames whose destination is on the port they came from.", c => c.Filtered);
        Meter.CreateObservableGauge("polynic.switch.mac_table_entries", () => PerSwitch(s => s.MacTableCount), "{entry}", "entries in the MAC table now.");

        SwitchPortCounter("polynic.switch_port.received_frames", "{frame}", "frames the port's NIC sent into the switch.", c => c.FramesIn);
        SwitchPortCounter("polynic.switch_port.received", "By", "bytes of the frames the port's NIC sent into the switch.", c => c.BytesIn);
        SwitchPortCounter("polynic.switch_port.delivered_frames", "{frame}", "frames the switch delivered to the port's NIC.", c => c.FramesOut);
        SwitchPortCounter("polynic.switch_port.delivered", "By", "bytes of the frames the switch delivered to the port's NIC.", c => c.BytesOut);
        SwitchPortCounter("polynic.switch_port.receiver_faults", "{fault}", "exceptions the port's receiver threw.", c => c.ReceiverFaults);
        Meter.CreateObservableCounter("polynic.switch_port.dropped_frames", SwitchPortDrops, "{frame}",
            "frames the switch dropped at the port, by reason (queue_full, vlan_mismatch, malformed, link_down).");
        Meter.CreateObservableGauge("polynic.switch_port.egress_queue_length", () => PerSwitchPort(p => p.EgressQueueLength), "{frame}",
            "frames waiting to be delivered to the port's NIC.");
    }

    /// <summary>Each layer of each NIC's port stack, outermost first (a decorator's <see cref="PortDecorator.Inner"/> is the next).</summary>
    private IEnumerable<(ServedFunction Nic, IPort Port)> PortLayers()
    {
        foreach (var f in _host.Functions)
            for (var port = f.Port; port is not null; port = (port as PortDecorator)?.Inner)
                yield return (f, port);
    }

    /// <summary>The counters of the port that moves the frames (the innermost layer); a switch port has its own (<see cref="SwitchPortCounters"/>).</summary>
    private static PortCounters? CountersOf(IPort port) => port switch
    {
        TapPort t => t.Counters,
        StreamPort s => s.Counters,
        DgramPort d => d.Counters,
        LoopbackPort l => l.Counters,
        _ => null,
    };

    private static KeyValuePair<string, object?>[] PortTags(ServedFunction f, IPort port) => [new("nic", f.Name), new("port", port.Name)];

    private void PortCounter(string name, string unit, string description, Func<PortCounters, long> read) =>
        Meter.CreateObservableCounter(name, () => PortCounterValues(read), unit, description);

    private IEnumerable<Measurement<long>> PortCounterValues(Func<PortCounters, long> read)
    {
        foreach (var (f, port) in PortLayers())
            if (CountersOf(port) is { } c) yield return new Measurement<long>(read(c), PortTags(f, port));
    }

    private void PortLayer<TPort>(string name, string unit, string description, Func<TPort, long> read) where TPort : class, IPort =>
        Meter.CreateObservableCounter(name, () => PortLayerValues(read), unit, description);

    private IEnumerable<Measurement<long>> PortLayerValues<TPort>(Func<TPort, long> read) where TPort : class, IPort
    {
        foreach (var (f, port) in PortLayers())
            if (port is TPort layer) yield return new Measurement<long>(read(layer), PortTags(f, port));
    }

    private IEnumerable<Measurement<long>> InjectedFaults()
    {
        foreach (var (f, port) in PortLayers())
        {
            if (port is not FaultInjectionPort faults) continue;
            foreach (var (direction, c) in new[] { ("outbound", faults.Counters.Outbound), ("inbound", faults.Counters.Inbound) })
            {
                yield return Fault(f, port, direction, "dropped", c.Dropped);
                yield return Fault(f, port, direction, "corrupted", c.Corrupted);
                yield return Fault(f, port, direction, "delayed", c.Delayed);
                yield return Fault(f, port, direction, "queue_full", c.QueueFull);
                yield return Fault(f, port, direction, "link_down", c.LinkDown);
            }
        }
    }

    private static Measurement<long> Fault(ServedFunction f, IPort port, string direction, string fault, long value) =>
        new(value, [new("nic", f.Name), new("port", port.Name), new("direction", direction), new("fault", fault)]);

    private void SwitchCounter(string name, string unit, string description, Func<L2SwitchCounters, long> read) =>
        Meter.CreateObservableCounter(name, () => PerSwitch(s => read(s.Counters)), unit, description);

    private IEnumerable<Measurement<long>> PerSwitch(Func<L2Switch, long> read)
    {
        foreach (var s in _host.Switches.Values)
            yield return new Measurement<long>(read(s), [new("switch", s.Name)]);
    }

    private void SwitchPortCounter(string name, string unit, string description, Func<SwitchPortCounters, long> read) =>
        Meter.CreateObservableCounter(name, () => PerSwitchPort(p => read(p.Counters)), unit, description);

    private IEnumerable<Measurement<long>> PerSwitchPort(Func<SwitchPort, long> read)
    {
        foreach (var s in _host.Switches.Values)
            foreach (var p in s.Ports)
                yield return new Measurement<long>(read(p), [new("switch", s.Name), new("port", p.Name)]);
    }

    private IEnumerable<Measurement<long>> SwitchPortDrops()
    {
        foreach (var s in _host.Switches.Values)
        {
            foreach (var p in s.Ports)
            {
                yield return Drop(s, p, "queue_full", p.Counters.DroppedQueueFull);
                yield return Drop(s, p, "vlan_mismatch", p.Counters.DroppedVlanMismatch);
                yield return Drop(s, p, "malformed", p.Counters.DroppedMalformed);
                yield return Drop(s, p, "link_down", p.Counters.DroppedLinkDown);
            }
        }
    }

    private static Measurement<long> Drop(L2Switch s, SwitchPort p, string reason, long value) =>
        new(value, [new("switch", s.Name), new("port", p.Name), new("reason", reason)]);
}
