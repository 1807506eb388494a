using Polynic.Core.Nic;

namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>A port that keeps every frame and its offload request exactly as the NIC handed it over.</summary>
public sealed class RecordingPort(PortCapabilities capabilities) : IPort
{
    public List<(byte[] Frame, FrameOffload Offload)> Sent { get; } = [];
    public string Name => "recording";
    public bool LinkUp => true;
    public PortCapabilities Capabilities => capabilities;
    public void Start(IPortReceiver receiver) { }
    public bool Send(ReadOnlySpan<byte> frame) => Send(frame, default);

    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        Sent.Add((frame.ToArray(), offload));
        return true;
    }

    public void Dispose() { }
}
