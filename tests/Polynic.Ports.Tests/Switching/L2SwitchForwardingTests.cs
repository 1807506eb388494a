using Polynic.Core.Nic;
using Polynic.Ports.Switching;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

public sealed class L2SwitchForwardingTests
{
    [Fact]
    public void Learns_sources_and_forwards_known_unicast_to_one_port()
    {
        using var bridge = new L2Switch("sw");
        var (a, logA) = bridge.Attach("a");
        var (b, logB) = bridge.Attach("b");
        var (_, logC) = bridge.Attach("c");

        Assert.True(a.Send(Frame(Broadcast, Mac(1))));          // floods; learns Mac(1) on a
        bridge.Drain();
        Assert.Single(logB.Frames);
        Assert.Single(logC.Frames);
        Assert.Empty(logA.Frames);

        var reply = Frame(Mac(1), Mac(2), fill: 0x11);
        Assert.True(b.Send(reply));                              // known: only a; learns Mac(2) on b
        var toB = Frame(Mac(2), Mac(1), fill: 0x22);
        Assert.True(a.Send(toB));                                // known: only b
        bridge.Drain();

        Assert.Equal(reply, Assert.Single(logA.Frames));
        Assert.Equal([Frame(Broadcast, Mac(1)), toB], logB.Frames);
        Assert.Single(logC.Frames);
        Assert.Equal(2, bridge.Counters.Learned);
        Assert.Equal(1, bridge.Counters.Flooded);
        Assert.Same(a, bridge.Lookup(new MacAddress(Mac(1)), 1));
        Assert.Same(b, bridge.Lookup(new MacAddress(Mac(2)), 1));
        Assert.Equal(2, a.Counters.FramesIn);
        Assert.Equal(128, a.Counters.BytesIn);
        Assert.Equal(2, b.Counters.FramesOut);
        Assert.Equal(128, b.Counters.BytesOut);
    }

    [Theory]
    [InlineData("broadcast")]
    [InlineData("multicast")]
    [InlineData("unknown unicast")]
    public void Floods_to_every_port_but_the_ingress(string kind)
    {
        using var bridge = new L2Switch("sw");
        var logs = Enumerable.Range(0, 4).Select(i => bridge.Attach($"p{i}")).ToArray();
        byte[] destination = kind switch { "broadcast" => Broadcast, "multicast" => Multicast, _ => Mac(99) };

        var frame = Frame(destination, Mac(1));
        Assert.True(logs[2].Port.Send(frame));
        bridge.Drain();

        Assert.Empty(logs[2].Log.Frames);
        foreach (int i in new[] { 0, 1, 3 }) Assert.Equal(frame, Assert.Single(logs[i].Log.Frames));
        Assert.Equal(1, bridge.Counters.Flooded);
    }

    [Fact]
    public void A_frame_to_a_station_on_its_own_port_is_filtered()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a");
        var (_, logB) = bridge.Attach("b");
        a.Send(Frame(Broadcast, Mac(1)));
        a.Send(Frame(Broadcast, Mac(2)));
        bridge.Drain();
        logB.Clear();

        Assert.True(a.Send(Frame(Mac(2), Mac(1))));
        bridge.Drain();

        Assert.Empty(logB.Frames);
        Assert.Equal(1, bridge.Counters.Filtered);
    }

    [Fact]
    public void A_station_that_moves_is_followed_to_its_new_port()
    {
        using var bridge = new L2Switch("sw");
        var (a, logA) = bridge.Attach("a");
        var (b, _) = bridge.Attach("b");
        var (c, logC) = bridge.Attach("c");
        a.Send(Frame(Broadcast, Mac(7)));
        c.Send(Frame(Broadcast, Mac(7)));   // the VM migrated, or its NIC was replugged
        bridge.Drain();
        logA.Clear();
        logC.Clear();

        b.Send(Frame(Mac(7), Mac(2)));
        bridge.Drain();

        Assert.Single(logC.Frames);
        Assert.Empty(logA.Frames);
        Assert.Equal(1, bridge.Counters.Moved);
        Assert.Same(c, bridge.Lookup(new MacAddress(Mac(7)), 1));
    }

    [Fact]
    public void Addresses_age_out_after_the_ageing_time_and_frames_to_them_flood_again()
    {
        var clock = new FakeClock();
        using var bridge = new L2Switch("sw", new L2SwitchOptions { TimeProvider = clock, MacAgingTime = TimeSpan.FromSeconds(300) });
        var (a, logA) = bridge.Attach("a");
        var (b, _) = bridge.Attach("b");
        var (_, logC) = bridge.Attach("c");
        a.Send(Frame(Broadcast, Mac(1)));
        bridge.Drain();

        clock.Advance(TimeSpan.FromSeconds(200));
        a.Send(Frame(Broadcast, Mac(1)));    // refreshes the entry
        clock.Advance(TimeSpan.FromSeconds(200));
        bridge.Drain();
        logC.Clear();
        b.Send(Frame(Mac(1), Mac(2)));       // 200 s since last seen: still known
        bridge.Drain();
        Assert.Empty(logC.Frames);
        Assert.Single(logA.Frames);

        clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Null(bridge.Lookup(new MacAddress(Mac(1)), 1));
        b.Send(Frame(Mac(1), Mac(2)));       // aged: flooded, and the sweep removes the entry
        bridge.Drain();

        Assert.Single(logC.Frames);
        Assert.Equal(2, logA.Frames.Length);
        Assert.True(bridge.Counters.Aged >= 1);
        Assert.DoesNotContain(bridge.GetMacTable(), e => e.Address == new MacAddress(Mac(1)));
        Assert.Contains(bridge.GetMacTable(), e => e.Address == new MacAddress(Mac(2)) && e.Port == b);
    }

    [Fact]
    public void Runts_and_group_source_addresses_are_dropped_and_counted()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a");
        var (_, logB) = bridge.Attach("b");

        Assert.False(a.Send(new byte[13]));
        Assert.False(a.Send(Frame(Broadcast, Multicast)));
        Assert.False(a.Send(Frame(Broadcast, Mac(1), length: 1519)));
        Assert.False(a.Send(Frame(Broadcast, Mac(1)), new FrameOffload(true, 34, 16, GsoType.None, 0, 0)));
        bridge.Drain();

        Assert.Empty(logB.Frames);
        Assert.Equal(4, a.Counters.DroppedMalformed);
        Assert.Equal(0, bridge.MacTableCount);
        Assert.Equal(PortCapabilities.None, a.Capabilities);
    }

    [Fact]
    public void A_receiver_that_throws_is_counted_and_does_not_stop_delivery()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a");
        var b = bridge.CreatePort("b");
        int calls = 0;
        b.Start(new DelegateReceiver(_ => { if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("boom"); }));

        a.Send(Frame(Broadcast, Mac(1)));
        a.Send(Frame(Broadcast, Mac(1)));
        bridge.Drain();

        Assert.Equal(2, calls);
        Assert.Equal(1, b.Counters.ReceiverFaults);
        Assert.IsType<InvalidOperationException>(b.LastReceiverFault);
    }
}

internal sealed class DelegateReceiver(Action<byte[]> onFrame) : IPortReceiver
{
    public void Receive(ReadOnlySpan<byte> frame) => onFrame(frame.ToArray());

    public void LinkChanged(bool up) { }
}
