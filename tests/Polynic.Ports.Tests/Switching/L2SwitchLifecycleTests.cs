using Polynic.Core.Nic;
using Polynic.Ports.Switching;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

public sealed class L2SwitchLifecycleTests
{
    [Fact]
    public void Disabling_a_port_takes_its_link_down_and_forgets_its_addresses()
    {
        using var bridge = new L2Switch("sw");
        var (a, logA) = bridge.Attach("a");
        var (b, logB) = bridge.Attach("b");
        a.Send(Frame(Broadcast, Mac(1)));
        bridge.Drain();
        Assert.True(a.LinkUp);

        a.SetEnabled(false);
        Assert.False(a.LinkUp);
        Assert.Null(bridge.Lookup(new MacAddress(Mac(1)), 1));
        Assert.False(a.Send(Frame(Broadcast, Mac(1))));
        b.Send(Frame(Broadcast, Mac(2)));
        bridge.Drain();
        Assert.Equal([false], logA.Links);
        Assert.Empty(logA.Frames);
        Assert.Equal(1, a.Counters.DroppedLinkDown);

        a.SetEnabled(true);
        b.Send(Frame(Broadcast, Mac(2)));
        bridge.Drain();
        Assert.True(a.LinkUp);
        Assert.Equal([false, true], logA.Links);
        Assert.Single(logA.Frames);
        Assert.Single(logB.Frames);
    }

    [Fact]
    public void Disposing_a_port_removes_it_and_its_addresses_and_stops_its_thread()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a");
        var (b, logB) = bridge.Attach("b");
        a.Send(Frame(Broadcast, Mac(1)));
        a.Send(Frame(Broadcast, Mac(11)));
        b.Send(Frame(Broadcast, Mac(2)));
        bridge.Drain();
        Assert.Equal(3, bridge.MacTableCount);
        Assert.True(a.IsDelivering);

        a.Dispose();

        Assert.False(a.IsDelivering);
        Assert.False(a.LinkUp);
        Assert.Equal(1, bridge.MacTableCount);
        Assert.DoesNotContain(a, bridge.Ports);
        Assert.False(a.Send(Frame(Mac(2), Mac(1))));
        Assert.Throws<ObjectDisposedException>(() => a.Start(new FrameLog()));
        Assert.Empty(logB.Links);
    }

    [Fact]
    public void Disposing_the_switch_tells_every_receiver_link_down_and_stops_every_thread()
    {
        var bridge = new L2Switch("sw");
        var ports = Enumerable.Range(0, 5).Select(i => bridge.Attach($"p{i}")).ToArray();
        var busy = ports[0].Port;
        var cancel = new CancellationTokenSource();
        var sender = new Thread(() =>
        {
            var frame = Frame(Broadcast, Mac(1));
            while (!cancel.IsCancellationRequested) busy.Send(frame);
        });
        sender.Start();
        Thread.Sleep(100);
        Assert.All(ports, p => Assert.True(p.Port.IsDelivering));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        bridge.Dispose();
        stopwatch.Stop();
        cancel.Cancel();
        Assert.True(sender.Join(Wait));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"dispose took {stopwatch.Elapsed}");
        Assert.All(ports, p =>
        {
            Assert.False(p.Port.IsDelivering);
            Assert.False(p.Port.LinkUp);
            Assert.False(p.Log.Links.Last());
        });
        Assert.Empty(bridge.Ports);
        Assert.Equal(0, bridge.MacTableCount);
        Assert.Throws<ObjectDisposedException>(() => bridge.CreatePort("late"));
        Assert.False(busy.Send(Frame(Broadcast, Mac(1))));
    }

    [Fact]
    public void Port_names_are_unique_per_switch()
    {
        using var bridge = new L2Switch("sw");
        Assert.Equal("sw:a", bridge.CreatePort("a").Name);
        Assert.Throws<ArgumentException>(() => bridge.CreatePort("a"));
        Assert.Throws<ArgumentOutOfRangeException>(() => bridge.CreatePort("bad", SwitchPortOptions.Access(4095)));
    }
}
