using Polynic.Core.Nic;
using Polynic.Ports.Switching;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

public sealed class L2SwitchLimitsTests
{
    [Fact]
    public void A_flood_of_random_source_addresses_stays_within_the_table_capacity()
    {
        using var bridge = new L2Switch("sw", new L2SwitchOptions { MacTableCapacity = 64 });
        var (hostile, _) = bridge.Attach("hostile");
        var b = bridge.CreatePort("b");
        var counter = new CountingReceiver();
        b.Start(counter);
        var c = bridge.CreatePort("c");
        c.Start(new CountingReceiver());

        var random = new Random(1234);
        var frame = Frame(Broadcast, Mac(1));
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(frame.AsSpan(6, 6));
            frame[6] &= 0xFE; // unicast sources, else they are dropped before learning
            hostile.Send(frame);
            Assert.True(bridge.MacTableCount <= 64);
        }

        Assert.Equal(64, bridge.MacTableCount);
        Assert.True(bridge.Counters.Learned >= 19_900);
        Assert.Equal(bridge.Counters.Learned - 64, bridge.Counters.Evicted + bridge.Counters.Aged);

        // The switch still learns and forwards.
        b.Send(Frame(Broadcast, Mac(2)));
        Assert.Same(b, bridge.Lookup(new MacAddress(Mac(2)), 1));
        long before = counter.Frames;
        c.Send(Frame(Mac(2), Mac(3)));
        bridge.Drain();
        Assert.True(counter.Frames > before);
    }

    [Fact]
    public void A_full_egress_queue_drops_and_counts()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a");
        var b = bridge.CreatePort("b", new SwitchPortOptions { EgressQueueCapacity = 8 });
        using var gate = new ManualResetEventSlim(false);
        int received = 0;
        b.Start(new DelegateReceiver(_ => { gate.Wait(); Interlocked.Increment(ref received); }));
        b.Send(Frame(Broadcast, Mac(2)));

        int accepted = 0;
        for (int i = 0; i < 100; i++)
            if (a.Send(Frame(Mac(2), Mac(1)))) accepted++;

        // One frame is inside the blocked receiver, eight wait in the queue.
        Assert.InRange(accepted, 8, 9);
        Assert.Equal(100 - accepted, b.Counters.DroppedQueueFull);
        gate.Set();
        bridge.Drain();
        Assert.Equal(accepted, received);
        Assert.Equal(accepted, b.Counters.FramesOut);
    }

    [Fact]
    public void Forwarding_allocates_nothing_after_warm_up()
    {
        using var bridge = new L2Switch("sw");
        var a = bridge.CreatePort("a");
        var b = bridge.CreatePort("b");
        var t = bridge.CreatePort("t", SwitchPortOptions.Trunk([1]));
        foreach (var port in bridge.Ports) port.Start(new CountingReceiver());
        var unicast = Frame(Mac(2), Mac(1));
        var flood = Frame(Broadcast, Mac(1), length: 1500);
        var fromTrunk = Tagged(Frame(Mac(1), Mac(3)), 1);
        b.Send(Frame(Broadcast, Mac(2)));

        void Forward()
        {
            for (int i = 0; i < 2_000; i++)
            {
                a.Send(unicast);
                a.Send(flood);
                t.Send(fromTrunk);
            }
        }

        Forward();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Forward();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, best);
        bridge.Drain();
        Assert.True(b.Counters.FramesOut > 0);
    }
}
