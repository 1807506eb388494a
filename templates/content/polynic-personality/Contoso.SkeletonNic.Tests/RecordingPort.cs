using Polynic.Core.Nic;

namespace Contoso.SkeletonNic.Tests;

/// <summary>
/// A port for tests: keeps every frame the NIC sends, and hands the NIC frames and link changes
/// on the test's own thread. The real ports (tap, switch, QEMU sockets) live in the server.
/// </summary>
internal sealed class RecordingPort : IPort
{
    private IPortReceiver? _receiver;

    public string Name => "test";

    public bool LinkUp { get; private set; } = true;

    public PortCapabilities Capabilities => PortCapabilities.None;

    /// <summary>Frames the NIC sent, oldest first.</summary>
    public List<byte[]> Sent { get; } = [];

    public void Start(IPortReceiver receiver) => _receiver = receiver;

    public bool Send(ReadOnlySpan<byte> frame)
    {
        if (!LinkUp) return false;
        Sent.Add(frame.ToArray());
        return true;
    }

    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) => false;

    /// <summary>A frame arrives from the wire.</summary>
    public void Deliver(ReadOnlySpan<byte> frame) => Receiver.Receive(frame);

    /// <summary>The cable is plugged in or pulled.</summary>
    public void SetLink(bool up)
    {
        LinkUp = up;
        Receiver.LinkChanged(up);
    }

    public void Dispose() { }

    private IPortReceiver Receiver => _receiver ?? throw new InvalidOperationException("The NIC has not started the port.");
}
