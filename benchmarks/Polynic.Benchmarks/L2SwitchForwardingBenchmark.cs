using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Polynic.Core.Nic;
using Polynic.Ports.Switching;

namespace Polynic.Benchmarks;

/// <summary>
/// Forwarding rate of an <see cref="L2Switch"/> on one sending thread: learning the source,
/// looking up the destination and copying the frame into the egress rings, while the destination
/// ports' delivery threads drain them into receivers that only count. Each invocation sends a
/// burst that fits the rings and returns only when every frame was delivered, so nothing is
/// dropped and the time is end to end. One operation is one frame: the mean is the time per
/// frame (1 / rate) and the allocation column is bytes per frame.
/// </summary>
[MemoryDiagnoser]
public class L2SwitchForwardingBenchmark
{
    private const int FramesPerInvoke = 4096;

    private L2Switch _switch = null!;
    private SwitchPort _ingress = null!;
    private SwitchPort[] _ports = null!;
    private readonly CountingReceiver[] _receivers = [new(), new(), new(), new()];
    private byte[] _unicast = null!;
    private byte[] _broadcast = null!;

    /// <summary>Frame length in bytes, without FCS.</summary>
    [Params(64, 1500)]
    public int FrameLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _switch = new L2Switch("bench");
        var ports = _ports = Enumerable.Range(0, 4)
            .Select(i => _switch.CreatePort($"p{i}", new SwitchPortOptions { EgressQueueCapacity = 8192 }))
            .ToArray();
        for (int i = 0; i < ports.Length; i++) ports[i].Start(_receivers[i]);
        _ingress = ports[0];
        ports[1].Send(Frame(Broadcast, Station(2), 64));   // learn the unicast destination on p1
        _unicast = Frame(Station(2), Station(1), FrameLength);
        _broadcast = Frame(Broadcast, Station(1), FrameLength);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var port in _switch.Ports)
            Console.WriteLine($"// {port.Name}: {port.Counters}");
        if (_switch.Ports.Any(p => p.Counters.DroppedQueueFull != 0))
            throw new InvalidOperationException("Frames were dropped; the rate would be wrong.");
        _switch.Dispose();
    }

    /// <summary>A known unicast destination: one copy into one port's ring.</summary>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int ForwardKnownUnicast()
    {
        int accepted = 0;
        var frame = _unicast;
        for (int i = 0; i < FramesPerInvoke; i++)
            if (_ingress.Send(frame)) accepted++;
        WaitUntilDelivered();
        return accepted;
    }

    /// <summary>A broadcast: one copy into each of the three other ports' rings.</summary>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int FloodBroadcast()
    {
        int accepted = 0;
        var frame = _broadcast;
        for (int i = 0; i < FramesPerInvoke; i++)
            if (_ingress.Send(frame)) accepted++;
        WaitUntilDelivered();
        return accepted;
    }

    private void WaitUntilDelivered()
    {
        foreach (var port in _ports)
        {
            var spin = new SpinWait();
            while (port.EgressQueueLength > 0) spin.SpinOnce();
        }
    }

    private static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

    private static byte[] Station(int n) => [0x02, 0, 0, 0, 0, (byte)n];

    private static byte[] Frame(byte[] destination, byte[] source, int length)
    {
        var frame = new byte[length];
        destination.CopyTo(frame, 0);
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        return frame;
    }

    private sealed class CountingReceiver : IPortReceiver
    {
        private long _frames;

        public void Receive(ReadOnlySpan<byte> frame) => Interlocked.Increment(ref _frames);

        public void LinkChanged(bool up) { }
    }
}
