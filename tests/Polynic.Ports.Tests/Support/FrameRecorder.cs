using Polynic.Core.Nic;

namespace Polynic.Ports.Tests.Support;

/// <summary>
/// A receiver that keeps copies of every frame and link change, lets a test wait for one that
/// matches, and (optionally) answers ARP requests for a made-up station so the kernel can reach it.
/// </summary>
internal sealed class FrameRecorder : IPortReceiver
{
    private readonly object _gate = new();
    private readonly List<byte[]> _frames = [];
    private readonly List<bool> _links = [];

    /// <summary>Set to answer ARP requests for <see cref="Station.Ip"/> through <see cref="ReplyPort"/>.</summary>
    public Station? Station { get; init; }

    public IPort? ReplyPort { get; set; }

    public List<int> ReceiveThreads { get; } = [];

    /// <summary>What the recorder asks its port for (see <see cref="IPortReceiver.ReceiveCapabilities"/>).</summary>
    public PortCapabilities ReceiveCapabilities { get; init; }

    private readonly List<(byte[] Frame, FrameOffload Offload)> _offloaded = [];

    /// <summary>Frames that arrived through Receive(frame, offload), with their offload.</summary>
    public (byte[] Frame, FrameOffload Offload)[] Offloaded { get { lock (_gate) return [.. _offloaded]; } }

    public void Receive(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var copy = frame.ToArray();
        lock (_gate)
        {
            _offloaded.Add((copy, offload));
            Monitor.PulseAll(_gate);
        }
        Receive(frame);
    }

    public (byte[] Frame, FrameOffload Offload)? WaitForOffloaded(Func<(byte[] Frame, FrameOffload Offload), bool> match, TimeSpan timeout) =>
        WaitUntil(() => _offloaded.Where(match).Select(x => (object)x).FirstOrDefault(), timeout) is { } found
            ? ((byte[], FrameOffload))found : null;

    public void Receive(ReadOnlySpan<byte> frame)
    {
        var copy = frame.ToArray();
        lock (_gate)
        {
            _frames.Add(copy);
            ReceiveThreads.Add(Environment.CurrentManagedThreadId);
            Monitor.PulseAll(_gate);
        }
        if (Station is { } station && ReplyPort is { } port && Frames.IsArpRequestFor(copy, station.Ip))
            port.Send(Frames.ArpReply(station.Mac, station.Ip, copy.AsSpan(6, 6).ToArray(), copy.AsSpan(28, 4).ToArray()));
    }

    public void LinkChanged(bool up)
    {
        lock (_gate)
        {
            _links.Add(up);
            Monitor.PulseAll(_gate);
        }
    }

    public byte[][] Received { get { lock (_gate) return [.. _frames]; } }

    public bool[] Links { get { lock (_gate) return [.. _links]; } }

    public byte[]? WaitFor(Func<byte[], bool> match, TimeSpan timeout) =>
        WaitUntil(() => _frames.FirstOrDefault(match), timeout);

    public bool WaitForLink(bool up, TimeSpan timeout) => WaitUntil(() => _links.Contains(up) ? "yes" : null, timeout) is not null;

    public int WaitForCount(int count, TimeSpan timeout) =>
        WaitUntil(() => _frames.Count >= count ? (object)_frames.Count : null, timeout) as int? ?? _frames.Count;

    private T? WaitUntil<T>(Func<T?> probe, TimeSpan timeout) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (true)
            {
                if (probe() is { } found) return found;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return null;
                Monitor.Wait(_gate, left);
            }
        }
    }
}

/// <summary>A made-up Ethernet/IPv4 station the test impersonates.</summary>
internal sealed record Station(byte[] Mac, byte[] Ip);
