using Polynic.Core.Nic;

namespace Polynic.Ports.Capture;

/// <summary>
/// Records both directions of a port into a <see cref="PcapngWriter"/> under one interface
/// name: frames the NIC sends as outbound, frames the port delivers as inbound. Several capture
/// ports can share one writer; each is its own interface in the file.
/// </summary>
/// <remarks>
/// A capture shows what crosses its place in a stack of decorators: wrapped around a
/// fault-injection port it records what the NIC sent and received, wrapped inside one it
/// records what the wire carried. An outbound frame is recorded before the inner port takes
/// it, whether or not the inner port accepts it. A frame sent with an offload is recorded as
/// the NIC handed it over (partial checksum, unsegmented), as tcpdump on a tap shows it.
/// Recording never waits for storage: the writer queues a copy, and a frame it cannot queue
/// is left out of the capture and counted in <see cref="Counters"/>, never dropped from the
/// port. The writer is shared, so the capture port never disposes it.
/// </remarks>
public sealed class CapturePort : CapturePoint
{
    /// <summary>
    /// Wraps <paramref name="inner"/> and declares interface <paramref name="interfaceName"/>
    /// (default: the inner port's name) in <paramref name="writer"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The writer refuses the name or snap length.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public CapturePort(IPort inner, PcapngWriter writer, string? interfaceName = null,
        int snapLength = PcapngWriter.MaxSnapLength, bool ownsInner = true)
        : base(inner, ownsInner)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Writer = writer;
        InterfaceName = interfaceName ?? inner.Name;
        Counters = Attach(writer, InterfaceName, snapLength);
    }

    /// <summary>The writer frames go to.</summary>
    public PcapngWriter Writer { get; }

    /// <summary>The interface's if_name in the capture.</summary>
    public string InterfaceName { get; }

    /// <summary>Frames this port handed to the writer and frames left out of the capture.</summary>
    public CaptureCounters Counters { get; }
}
