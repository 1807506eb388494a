using System.Buffers.Binary;
using Polynic.Ports.Switching;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

public sealed class L2SwitchVlanTests
{
    [Fact]
    public void Access_ports_reach_their_own_vlan_only()
    {
        using var bridge = new L2Switch("sw");
        var (a10, _) = bridge.Attach("a10", SwitchPortOptions.Access(10));
        var (_, logB10) = bridge.Attach("b10", SwitchPortOptions.Access(10));
        var (c20, _) = bridge.Attach("c20", SwitchPortOptions.Access(20));
        var (_, logD20) = bridge.Attach("d20", SwitchPortOptions.Access(20));

        a10.Send(Frame(Broadcast, Mac(1)));
        bridge.Drain();
        Assert.Single(logB10.Frames);
        Assert.Empty(logD20.Frames);

        // Mac(1) is known in VLAN 10 only; from VLAN 20 it is an unknown destination, flooded in VLAN 20.
        c20.Send(Frame(Mac(1), Mac(3)));
        bridge.Drain();
        Assert.Single(logB10.Frames);
        Assert.Single(logD20.Frames);
        Assert.Null(bridge.Lookup(new Polynic.Core.Nic.MacAddress(Mac(1)), 20));
    }

    [Fact]
    public void A_tagged_frame_on_an_access_port_is_dropped_as_a_vlan_mismatch()
    {
        using var bridge = new L2Switch("sw");
        var (a, _) = bridge.Attach("a", SwitchPortOptions.Access(10));
        var (_, logB) = bridge.Attach("b", SwitchPortOptions.Access(10));

        Assert.False(a.Send(Tagged(Frame(Broadcast, Mac(1)), 10)));
        bridge.Drain();

        Assert.Empty(logB.Frames);
        Assert.Equal(1, a.Counters.DroppedVlanMismatch);
        Assert.Equal(0, bridge.MacTableCount);
    }

    [Fact]
    public void A_trunk_tags_on_egress_and_its_tagged_frames_reach_the_access_ports_of_that_vlan_untagged()
    {
        using var bridge = new L2Switch("sw");
        var (trunk, logTrunk) = bridge.Attach("trunk", SwitchPortOptions.Trunk([10, 20]));
        var (a10, logA10) = bridge.Attach("a10", SwitchPortOptions.Access(10));
        var (_, logC20) = bridge.Attach("c20", SwitchPortOptions.Access(20));
        var (_, logD30) = bridge.Attach("d30", SwitchPortOptions.Access(30));

        var untagged = Frame(Broadcast, Mac(1));
        a10.Send(untagged);
        bridge.Drain();
        var onTrunk = Assert.Single(logTrunk.Frames);
        Assert.Equal(Tagged(untagged, 10), onTrunk);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(onTrunk.AsSpan(12)));
        Assert.Empty(logC20.Frames);

        var fromTrunk = Frame(Mac(1), Mac(5), fill: 0x33);   // to a station the trunk's VLAN 20 does not know
        Assert.True(trunk.Send(Tagged(fromTrunk, 20, priority: 5)));
        bridge.Drain();
        Assert.Equal(fromTrunk, Assert.Single(logC20.Frames));
        Assert.Empty(logA10.Frames);
        Assert.Empty(logD30.Frames);

        // A reply in VLAN 20 to the station learned through the trunk goes back to it tagged, priority kept.
        bridge.Ports.Single(p => p.Name == "sw:c20").Send(Frame(Mac(5), Mac(6)));
        bridge.Drain();
        Assert.Equal(Tagged(Frame(Mac(5), Mac(6)), 20, priority: 0), logTrunk.Frames[^1]);
    }

    [Fact]
    public void A_trunk_refuses_untagged_frames_without_native_vlan_and_vlans_it_does_not_carry()
    {
        using var bridge = new L2Switch("sw");
        var (trunk, _) = bridge.Attach("trunk", SwitchPortOptions.Trunk([10]));
        var (_, log10) = bridge.Attach("a10", SwitchPortOptions.Access(10));
        var (_, log30) = bridge.Attach("a30", SwitchPortOptions.Access(30));

        Assert.False(trunk.Send(Frame(Broadcast, Mac(1))));
        Assert.False(trunk.Send(Tagged(Frame(Broadcast, Mac(1)), 30)));
        Assert.False(trunk.Send(Tagged(Frame(Broadcast, Mac(1)), 0)));     // priority-tagged only
        bridge.Drain();

        Assert.Empty(log10.Frames);
        Assert.Empty(log30.Frames);
        Assert.Equal(3, trunk.Counters.DroppedVlanMismatch);
    }

    [Fact]
    public void The_native_vlan_of_a_trunk_is_carried_untagged_both_ways()
    {
        using var bridge = new L2Switch("sw");
        var (trunk, logTrunk) = bridge.Attach("trunk", SwitchPortOptions.Trunk([20], nativeVlan: 10));
        var (a10, log10) = bridge.Attach("a10", SwitchPortOptions.Access(10));
        var (a20, _) = bridge.Attach("a20", SwitchPortOptions.Access(20));

        var fromTrunk = Frame(Broadcast, Mac(1));
        Assert.True(trunk.Send(fromTrunk));
        a10.Send(Frame(Mac(1), Mac(2)));
        a20.Send(Frame(Broadcast, Mac(3)));
        bridge.Drain();

        Assert.Equal(fromTrunk, Assert.Single(log10.Frames));
        Assert.Equal([Frame(Mac(1), Mac(2)), Tagged(Frame(Broadcast, Mac(3)), 20)], logTrunk.Frames);
    }

    [Fact]
    public void Untagging_a_minimum_size_frame_pads_it_to_60_bytes()
    {
        using var bridge = new L2Switch("sw");
        var (trunk, _) = bridge.Attach("trunk", SwitchPortOptions.Trunk([10]));
        var (_, log10) = bridge.Attach("a10", SwitchPortOptions.Access(10));

        var tagged = Tagged(Frame(Broadcast, Mac(1), length: 60), 10);   // 64 bytes
        trunk.Send(tagged);
        bridge.Drain();

        var received = Assert.Single(log10.Frames);
        Assert.Equal(60, received.Length);
        Assert.Equal(Frame(Broadcast, Mac(1), length: 60), received);
    }
}
