using System.Diagnostics;
using Polynic.Ports.Switching;
using Xunit.Abstractions;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

/// <summary>
/// A quick look at the forwarding rate with a Stopwatch. It reports the rate but asserts only
/// that every frame was delivered: a rate depends on the machine and its load. The sender waits
/// whenever the egress queue is half full, so the rate is of frames delivered, not of frames
/// dropped. The BenchmarkDotNet benchmark (benchmarks/Polynic.Benchmarks) is the measurement to trust.
/// </summary>
public sealed class L2SwitchRateMeasurement(ITestOutputHelper output)
{
    [Theory]
    [InlineData(64)]
    [InlineData(1500)]
    public void Reports_the_forwarding_rate_of_one_sending_thread(int length)
    {
        const int Capacity = 4096;
        using var bridge = new L2Switch("sw");
        var a = bridge.CreatePort("a", new SwitchPortOptions { EgressQueueCapacity = Capacity });
        var b = bridge.CreatePort("b", new SwitchPortOptions { EgressQueueCapacity = Capacity });
        var receiver = new CountingReceiver();
        a.Start(new CountingReceiver());
        b.Start(receiver);
        b.Send(Frame(Broadcast, Mac(2)));
        var frame = Frame(Mac(2), Mac(1), length);

        long Run(int frames)
        {
            long waits = 0;
            for (int i = 0; i < frames; i += 256)
            {
                for (int j = 0; j < 256; j++) a.Send(frame);
                for (var spin = new SpinWait(); b.EgressQueueLength > Capacity / 2; spin.SpinOnce()) waits++;
            }
            while (b.EgressQueueLength > 0) Thread.SpinWait(10);
            return waits;
        }

        Run(100_000);
        const int Frames = 5_120_000; // whole bursts of 256
        long delivered = receiver.Frames;
        var stopwatch = Stopwatch.StartNew();
        long waited = Run(Frames);
        stopwatch.Stop();
        delivered = receiver.Frames - delivered;

        output.WriteLine($"{length}-byte frames: {delivered / stopwatch.Elapsed.TotalSeconds / 1e6:F2} M frames/s delivered " +
                         $"({waited} spins waiting for the receiver), {b.Counters.DroppedQueueFull} dropped");
        Assert.Equal(Frames, delivered);
        Assert.Equal(0, b.Counters.DroppedQueueFull);
    }
}
