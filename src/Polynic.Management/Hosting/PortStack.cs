using Polynic.Core.Nic;
using Polynic.Ports;
using Polynic.Ports.Capture;
using Polynic.Ports.Faults;
using Polynic.Ports.Sockets;
using Polynic.Ports.Switching;
using Polynic.Ports.Tap;

namespace Polynic.Management.Hosting;

/// <summary>One layer of a NIC's port stack and its counters, as management shows it.</summary>
/// <param name="Kind">tap, switch, stream, dgram, loopback, faults, capture or the type's name.</param>
/// <param name="Name">The layer's port name (the real port's, for a decorator).</param>
/// <param name="Counters">The layer's counters by name (camelCase), read now.</param>
public sealed record PortLayer(string Kind, string Name, IReadOnlyDictionary<string, long> Counters);

/// <summary>Reads a port stack (decorators outermost first, the real port last) for management: counters by layer.</summary>
public static class PortStack
{
    /// <summary>The layers from the NIC's side to the wire.</summary>
    public static IReadOnlyList<PortLayer> Layers(IPort port)
    {
        var layers = new List<PortLayer>();
        for (IPort? p = port; p is not null; p = (p as PortDecorator)?.Inner) layers.Add(Describe(p));
        return layers;
    }

    /// <summary>The real port at the bottom of the stack (the tap, switch port or socket).</summary>
    public static IPort Wire(IPort port)
    {
        while (port is PortDecorator d) port = d.Inner;
        return port;
    }

    /// <summary>The first layer of type <typeparamref name="T"/> in the stack, or null.</summary>
    public static T? Find<T>(IPort? port) where T : class, IPort
    {
        for (var p = port; p is not null; p = (p as PortDecorator)?.Inner)
            if (p is T found) return found;
        return null;
    }

    private static PortLayer Describe(IPort port) => port switch
    {
        TapPort t => new("tap", t.Name, Of(t.Counters)),
        SwitchPort s => new("switch", s.Name, new Dictionary<string, long>
        {
            ["framesIn"] = s.Counters.FramesIn,
            ["bytesIn"] = s.Counters.BytesIn,
            ["framesOut"] = s.Counters.FramesOut,
            ["bytesOut"] = s.Counters.BytesOut,
            ["droppedQueueFull"] = s.Counters.DroppedQueueFull,
            ["droppedVlanMismatch"] = s.Counters.DroppedVlanMismatch,
            ["droppedMalformed"] = s.Counters.DroppedMalformed,
            ["droppedLinkDown"] = s.Counters.DroppedLinkDown,
            ["receiverFaults"] = s.Counters.ReceiverFaults,
        }),
        StreamPort s => new("stream", s.Name, Of(s.Counters)),
        DgramPort d => new("dgram", d.Name, Of(d.Counters)),
        Polynic.Ports.Loopback.LoopbackPort l => new("loopback", l.Name, Of(l.Counters)),
        FaultInjectionPort f => new("faults", f.Name, new Dictionary<string, long>
        {
            ["outboundDropped"] = f.Counters.Outbound.Dropped,
            ["outboundCorrupted"] = f.Counters.Outbound.Corrupted,
            ["outboundDelayed"] = f.Counters.Outbound.Delayed,
            ["inboundDropped"] = f.Counters.Inbound.Dropped,
            ["inboundCorrupted"] = f.Counters.Inbound.Corrupted,
            ["inboundDelayed"] = f.Counters.Inbound.Delayed,
            ["linkTransitions"] = f.Counters.LinkTransitions,
        }),
        CapturePort c => new("capture", c.Name, new Dictionary<string, long>
        {
            ["framesQueued"] = c.Counters.FramesQueued,
            ["framesDropped"] = c.Counters.FramesDropped,
        }),
        _ => new(port.GetType().Name, port.Name, new Dictionary<string, long>()),
    };

    /// <summary>A real port's traffic counters by name.</summary>
    public static Dictionary<string, long> Of(PortCounters c) => new()
    {
        ["framesSent"] = c.FramesSent,
        ["bytesSent"] = c.BytesSent,
        ["framesReceived"] = c.FramesReceived,
        ["bytesReceived"] = c.BytesReceived,
        ["sendFailures"] = c.SendFailures,
        ["receiveErrors"] = c.ReceiveErrors,
        ["receiveHeaderErrors"] = c.ReceiveHeaderErrors,
    };
}
