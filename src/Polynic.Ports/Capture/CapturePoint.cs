using Polynic.Core.Nic;

namespace Polynic.Ports.Capture;

/// <summary>
/// A place in a port stack where captures are started and stopped while frames flow (the HTTP
/// API's captures and live streams): each attached <see cref="PcapngWriter"/> gets both
/// directions under one interface, as a <see cref="CapturePort"/> would. With nothing attached a
/// frame costs one volatile read.
/// </summary>
/// <remarks>
/// Recording never waits for storage or for a reader (see <see cref="PcapngWriter.WritePacket"/>):
/// a writer that cannot keep up leaves frames out of its capture and counts them; the frame goes on.
/// Attach and detach copy the list, so the data path reads it without a lock. The writers are the
/// callers': a capture point never disposes them. <see cref="CapturePort"/> is a capture point
/// with one writer attached for its whole life.
/// </remarks>
public class CapturePoint : PortDecorator
{
    private readonly Lock _gate = new();
    private volatile Attachment[] _attached = [];

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public CapturePoint(IPort inner, bool ownsInner = true) : base(inner, ownsInner) { }

    /// <summary>Captures attached now.</summary>
    public int AttachedCount => _attached.Length;

    /// <summary>
    /// Starts recording into <paramref name="writer"/> under interface <paramref name="interfaceName"/>;
    /// the returned counters count what this capture queued and left out.
    /// </summary>
    /// <exception cref="ArgumentException">The writer refuses the name or the snap length.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public CaptureCounters Attach(PcapngWriter writer, string interfaceName, int snapLength = PcapngWriter.MaxSnapLength)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var attachment = new Attachment(writer, writer.AddInterface(interfaceName, snapLength), new CaptureCounters());
        lock (_gate) _attached = [.. _attached, attachment];
        return attachment.Counters;
    }

    /// <summary>Stops recording into <paramref name="writer"/>; frames already queued stay in its capture.</summary>
    public void Detach(PcapngWriter writer)
    {
        lock (_gate) _attached = [.. _attached.Where(a => a.Writer != writer)];
    }

    /// <inheritdoc/>
    public override bool Send(ReadOnlySpan<byte> frame)
    {
        Record(frame, CaptureDirection.Outbound);
        return Inner.Send(frame);
    }

    /// <inheritdoc/>
    public override bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        Record(frame, CaptureDirection.Outbound);
        return Inner.Send(frame, offload);
    }

    /// <inheritdoc/>
    public override void Receive(ReadOnlySpan<byte> frame)
    {
        Record(frame, CaptureDirection.Inbound);
        base.Receive(frame);
    }

    /// <inheritdoc/>
    public override void Receive(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        Record(frame, CaptureDirection.Inbound);
        base.Receive(frame, offload);
    }

    private void Record(ReadOnlySpan<byte> frame, CaptureDirection direction)
    {
        var attached = _attached;
        if (attached.Length == 0) return;
        foreach (var a in attached) a.Counters.Count(a.Writer.WritePacket(a.InterfaceId, frame, direction));
    }

    private sealed record Attachment(PcapngWriter Writer, int InterfaceId, CaptureCounters Counters);
}
