using Polynic.Core.Nic;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The port a fuzzed NIC is cabled to: frames from the device are counted (the last one kept for
/// the sanity check), frames to the device are injected on the fuzzing thread, one call at a time,
/// so a run stays deterministic. It keeps the port contract the device relies on (frames of at
/// least an Ethernet header, offloads only as the receiver declared them) and checks the one the
/// device must keep: offloads handed to <see cref="Send(ReadOnlySpan{byte}, in FrameOffload)"/>
/// only as <see cref="Capabilities"/> allows.
/// </summary>
internal sealed class FuzzPort(PortCapabilities capabilities) : IPort
{
    private readonly byte[] _last = new byte[QemuStreamLimit];

    /// <summary>Longest frame a Polynic port delivers (a QEMU stream socket's limit, 4 KiB + 64 KiB).</summary>
    public const int QemuStreamLimit = 4096 + 65536;

    /// <summary>The device side, once the NIC started the port.</summary>
    public IPortReceiver? Receiver { get; private set; }

    public string Name => "fuzz";

    public bool LinkUp { get; private set; } = true;

    public PortCapabilities Capabilities { get; } = capabilities;

    /// <summary>Frames the device sent.</summary>
    public long Sent { get; private set; }

    /// <summary>Frames the device sent with offload work left to the port.</summary>
    public long SentWithOffload { get; private set; }

    /// <summary>A broken port contract (an offload the port did not offer), or null.</summary>
    public string? ContractViolation { get; private set; }

    /// <summary>The last frame sent.</summary>
    public ReadOnlySpan<byte> LastFrame => _last.AsSpan(0, LastLength);

    private int LastLength { get; set; }

    public void Start(IPortReceiver receiver) => Receiver = receiver;

    public bool Send(ReadOnlySpan<byte> frame)
    {
        Keep(frame);
        return true;
    }

    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if ((offload.Requires & ~Capabilities) != 0)
            ContractViolation ??= $"the device sent a frame needing {offload.Requires} to a port offering {Capabilities}";
        SentWithOffload++;
        Keep(frame);
        return true;
    }

    /// <summary>Carrier changes, as a tap that goes down and up.</summary>
    public void SetLink(bool up)
    {
        LinkUp = up;
        Receiver?.LinkChanged(up);
    }

    /// <summary>Forgets the last frame, so the sanity check sees only what it sent.</summary>
    public void ClearLast() => LastLength = 0;

    public void Dispose() { }

    private void Keep(ReadOnlySpan<byte> frame)
    {
        Sent++;
        int n = Math.Min(frame.Length, _last.Length);
        frame[..n].CopyTo(_last);
        LastLength = n;
    }
}
