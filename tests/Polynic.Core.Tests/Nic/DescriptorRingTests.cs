using CsCheck;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Dma;
using Polynic.Core.Nic.Filtering;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Nic;

public class DescriptorRingTests
{
    private readonly GuestRam _ram = new(1 << 20);

    [Fact]
    public void Pending_counts_from_head_to_tail_modulo_the_ring()
    {
        var r = new DescriptorRing(16);
        Assert.True(r.Configure(new GuestAddress(0x1000), 8 * 16));
        Assert.Equal(8u, r.Count);
        Assert.True(r.IsEmpty);
        r.SetTail(5);
        Assert.Equal(5u, r.Pending);
        r.SetHead(6);
        Assert.Equal(7u, r.Pending);
        for (int i = 0; i < 7; i++) r.Advance();
        Assert.Equal(5u, r.Head);
        Assert.True(r.IsEmpty);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)]
    [InlineData(15u)]
    public void Invalid_lengths_offer_no_descriptors(uint length)
    {
        var r = new DescriptorRing(16);
        Assert.False(r.Configure(new GuestAddress(0x1000), length));
        Assert.Equal(0u, r.Count);
        Assert.False(r.SetTail(1));
        Assert.True(r.IsEmpty);
        Assert.False(r.TryReadHead(_ram, new byte[16]));
        Assert.Equal(0u, r.BeginPass().Remaining);
    }

    [Fact]
    public void Head_beyond_the_ring_wraps_to_zero_and_tail_beyond_is_refused_both_counted()
    {
        var r = new DescriptorRing(16);
        r.Configure(new GuestAddress(0x1000), 4 * 16);
        r.SetTail(3);
        Assert.False(r.SetTail(4));
        Assert.Equal(3u, r.Tail);
        Assert.False(r.SetHead(100));
        Assert.Equal(0u, r.Head);
        Assert.Equal(2, r.IndexFaults);
    }

    [Fact]
    public void Reads_and_writes_the_descriptor_at_the_head_through_guest_memory()
    {
        var r = new DescriptorRing(16);
        r.Configure(new GuestAddress(0x2000), 4 * 16);
        _ram.Span(0x2000 + 2 * 16, 16).Fill(0xAB);
        r.SetHead(2);
        var d = new byte[16];
        Assert.True(r.TryReadHead(_ram, d));
        Assert.All(d, b => Assert.Equal(0xAB, b));
        Assert.True(r.TryWriteHead(_ram, new byte[] { 1, 2 }));
        Assert.Equal(new byte[] { 1, 2, 0xAB }, _ram.Span(0x2000 + 32, 3).ToArray());
        Assert.False(r.TryWriteHead(_ram, new byte[17]));
        Assert.False(r.TryReadHead(_ram, new byte[15]));
        Assert.Equal(2, r.DmaFaults);
    }

    [Fact]
    public void Base_outside_guest_ram_or_near_the_top_of_the_address_space_fails_reads_only()
    {
        var r = new DescriptorRing(16);
        r.Configure(new GuestAddress(ulong.MaxValue - 20), 4 * 16);
        r.SetTail(3);
        r.SetHead(2);
        Assert.False(r.TryReadHead(_ram, new byte[16]));
        r.Configure(new GuestAddress(0x10_0000 - 8), 4 * 16);
        r.SetHead(0);
        Assert.False(r.TryReadHead(_ram, new byte[16]));
        Assert.Equal(2, r.DmaFaults);
    }

    [Fact]
    public void A_pass_never_exceeds_the_ring_size_even_if_the_tail_keeps_moving()
    {
        var r = new DescriptorRing(16);
        r.Configure(new GuestAddress(0x1000), 8 * 16);
        r.SetTail(7);
        var budget = r.BeginPass();
        int processed = 0;
        while (!r.IsEmpty && budget.TryTake())
        {
            r.Advance();
            r.SetTail((r.Head + 7) % 8);        // a hostile guest refills behind the device
            processed++;
        }
        Assert.Equal(8, processed);
        Assert.True(budget.IsExhausted);
    }

    [Fact]
    public void Property_pending_and_advance_agree_with_the_modulo_rule_after_the_ring_shrinks_or_grows_under_head_and_tail() =>
        Gen.Select(Gen.UInt[1, 64], Gen.UInt[0, 64], Gen.UInt, Gen.UInt).Sample((before, after, head, tail) =>
        {
            // Count is computed once per Configure; head and tail may be beyond a ring the guest shrank.
            var r = new DescriptorRing(16);
            r.Configure(new GuestAddress(0), before * 16);
            r.SetHead(head % before);
            r.SetTail(tail % before);
            uint h = r.Head, t = r.Tail;
            r.Configure(new GuestAddress(0), after * 16);
            Assert.Equal(after, r.Count);
            Assert.Equal(after == 0 ? 0 : (t + after - h) % after, r.Pending);
            Assert.Equal(after == 0 ? 0 : (h + 1) % after, r.Advance());
        });

    [Fact]
    public void Property_pending_is_always_less_than_count() =>
        Gen.Select(Gen.UInt[0, 64], Gen.UInt, Gen.UInt).Sample((entries, head, tail) =>
        {
            var r = new DescriptorRing(16);
            r.Configure(new GuestAddress(0), entries * 16);
            r.SetHead(head);
            r.SetTail(tail);
            Assert.True(r.Head < Math.Max(1, r.Count) && r.Tail < Math.Max(1, r.Count));
            Assert.True(r.Pending < Math.Max(1, r.Count));
        });
}

public class NicCountersTests
{
    [Fact]
    public void Counts_delivered_frames_by_destination_kind_and_rejections_by_reason()
    {
        var c = new NicCounters();
        byte[] bcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 8, 0];
        byte[] mcast = [0x01, 0x00, 0x5E, 0, 0, 1, 0, 0, 0, 0, 0, 0, 8, 0, 0];
        byte[] ucast = [0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 8, 0];
        c.CountDelivered(bcast);
        c.CountDelivered(mcast);
        c.CountDelivered(ucast);
        c.CountRejected(ReceiveFilterResult.RejectedTooShort);
        c.CountRejected(ReceiveFilterResult.RejectedVlan);
        c.CountRejected(ReceiveFilterResult.AcceptedUnicast);
        c.CountSent(60, sent: true);
        c.CountSent(60, sent: false);
        var s = c.Snapshot().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(3, s["rx_frames"]);
        Assert.Equal(43, s["rx_bytes"]);
        Assert.Equal(1, s["rx_broadcast"]);
        Assert.Equal(1, s["rx_multicast"]);
        Assert.Equal(1, s["rx_too_short"]);
        Assert.Equal(1, s["rx_filtered"]);
        Assert.Equal((1, 60, 1), (s["tx_frames"], s["tx_bytes"], s["tx_dropped"]));
        c.Clear();
        Assert.All(c.Snapshot(), kv => Assert.Equal(0, kv.Value));
    }
}
