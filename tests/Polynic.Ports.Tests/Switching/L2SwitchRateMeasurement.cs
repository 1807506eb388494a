using System.Diagnostics;
using Polynic.Ports.Switching;
using Xunit.Abstractions;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

/// <summary>
/// A quick look at the forwarding rate with a Stopwatch. It reports the rate but asserts only
/// that every accepted frame was delivered: a rate depends on the machine and its load. The
/// BenchmarkDotNet benchmark (benchmarks/Polynic.Benchmarks) is the measurement to trust.
/// </summary>
public sealed class L2SwitchRateMeasurement(ITestOutputHelper output)
{
    [Theory]
    [InlineData(64)]
    [InlineData(1500)]
    public void Reports_the_forwarding_rate_of_one_sending_thread(int length)
    {
        using var bridge = new L2Switch("sw");
        var a = bridge.CreatePort("a", new SwitchPortOptions { EgressQueueCapacity = 4096 });
        var b = bridge.CreatePort("b", new SwitchPortOptions { EgressQueueCapacity = 4096 });
        var receiver = new CountingReceiver();
        a.Start(new CountingReceiver());
        b.Start(receiver);
        b.Send(Frame(Broadcast, Mac(2)));
        var frame = Frame(Mac(2), Mac(1), length);
        for (int i = 0; i < 100_000; i++) a.Send(frame);

        const int Frames = 5_000_000;
        long accepted = 0;
        var stopwatch = Stopwatch.StartNew();
        for (int i = 0; i < Frames; i++)
            if (a.Send(frame)) accepted++;
        stopwatch.Stop();
        bridge.Drain();

        double rate = Frames / stopwatch.Elapsed.TotalSeconds;
        output.WriteLine($"{length}-byte frames: {rate / 1e6:F2} M sends/s, {accepted * 100.0 / Frames:F1}% accepted, " +
                         $"{b.Counters.DroppedQueueFull} dropped (queue full)");
        Assert.Equal(100_000 + Frames, b.Counters.FramesOut + b.Counters.DroppedQueueFull);
    }
}
