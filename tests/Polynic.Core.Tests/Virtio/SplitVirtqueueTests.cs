using Polynic.Core.Memory;
using Polynic.Core.Virtio;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Virtio;

public class SplitVirtqueueTests
{
    private const ulong Desc = 0x1000, Avail = 0x3000, Used = 0x4000, Buffers = 0x10000;
    private readonly GuestRam _ram = new(1 << 20);
    private readonly SplitVirtqueue _queue = new(0, 16);
    private readonly GuestRing _ring;

    public SplitVirtqueueTests()
    {
        _ring = new GuestRing(_ram, Desc, Avail, Used, 16);
        _ring.Clear();
        _queue.Size = 16;
        _queue.DescriptorTable = new GuestAddress(Desc);
        _queue.DriverArea = new GuestAddress(Avail);
        _queue.DeviceArea = new GuestAddress(Used);
        _queue.Enabled = true;
    }

    [Fact]
    public void A_chain_is_walked_readable_first_and_returned_through_the_used_ring()
    {
        _ram.Span(Buffers, 4).Fill(0xAB);
        ushort head = _ring.Add((Buffers, 4, false), (Buffers + 0x100, 8, false), (Buffers + 0x200, 100, true));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
        Assert.Equal(head, chain.Head);
        Assert.Equal(3, chain.Segments.Length);
        Assert.Equal(2, chain.ReadableCount);
        Assert.Equal(12, chain.ReadableLength);
        Assert.Equal(100, chain.WritableLength);
        var buffer = new byte[12];
        Assert.Equal(12, chain.Gather(_ram, buffer));
        Assert.Equal(0xAB, buffer[3]);
        Assert.Equal(5, chain.Scatter(_ram, 10, [1, 2, 3, 4, 5]));
        Assert.Equal(3, _ram.Span(Buffers + 0x200 + 12, 1)[0]);
        Assert.True(_queue.PushUsed(_ram, head, 15));
        Assert.Equal([(head, 15u)], _ring.TakeUsed().Select(u => ((ushort)u.Id, u.Length)).Select(t => ((uint)t.Item1, t.Length)).ToList());
        Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
    }

    [Fact]
    public void Several_chains_are_published_together_or_not_at_all()
    {
        ushort[] heads = [_ring.Add((Buffers, 64, true)), _ring.Add((Buffers + 0x100, 64, true)), _ring.Add((Buffers + 0x200, 64, true))];
        foreach (var _ in heads) Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var _));
        Assert.True(_queue.PushUsed(_ram, [new UsedBuffer(heads[0], 64), new UsedBuffer(heads[1], 64), new UsedBuffer(heads[2], 10)]));
        Assert.Equal(3, _ring.UsedIndex);
        Assert.Equal([(heads[0], 64u), (heads[1], 64u), (heads[2], 10u)], _ring.TakeUsed().Select(u => ((ushort)u.Id, u.Length)).ToList());
        Assert.Equal(3, _queue.Completed);
    }

    [Fact]
    public void A_batch_whose_last_element_falls_outside_ram_publishes_none_of_it()
    {
        // The used ring ends at the top of RAM: elements 0 and 1 fit, element 2 does not.
        const ulong top = 1 << 20;
        _queue.DeviceArea = new GuestAddress(top - 4 - 8 * 2 - 4);
        Assert.False(_queue.PushUsed(_ram, [new UsedBuffer(0, 1), new UsedBuffer(1, 1), new UsedBuffer(2, 1)]));
        Assert.Equal(0, System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(_ram.Span(top - 4 - 8 * 2 - 4 + 2, 2)));
        Assert.Equal(1, _queue.Faults);
        Assert.Equal(0, _queue.Completed);
        Assert.True(_queue.PushUsed(_ram, [new UsedBuffer(0, 1), new UsedBuffer(1, 1)]));
        Assert.Equal(2, System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(_ram.Span(top - 4 - 8 * 2 - 4 + 2, 2)));
    }

    [Fact]
    public void Arming_for_more_buffers_asks_for_a_notification_past_the_drivers_current_index()
    {
        _queue.EventIndex = true;
        _ring.Add((Buffers, 64, true));
        _ring.Add((Buffers + 0x100, 64, true));
        // Too few for what the device needs: it pops none and waits for more.
        Assert.False(_queue.ArmNotificationForMore(_ram));
        Assert.Equal(2, _ring.AvailEvent);
        Assert.True(_queue.ArmNotification(_ram));   // whereas plain arming asks from the first unpopped one
        Assert.Equal(0, _ring.AvailEvent);
    }

    [Fact]
    public void Indirect_table_is_followed()
    {
        const ulong table = 0x8000;
        var indirect = new GuestRing(_ram, table, 0x9000, 0xA000, 4);
        indirect.SetDescriptor(0, Buffers, 10, GuestRing.Next, 1);
        indirect.SetDescriptor(1, Buffers + 0x100, 20, GuestRing.Write, 0);
        _ring.SetDescriptor(0, table, 32, GuestRing.Indirect, 0);
        _ring.Publish(0);
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
        Assert.Equal(2, chain.Segments.Length);
        Assert.Equal(10, chain.ReadableLength);
        Assert.Equal(20, chain.WritableLength);
    }

    [Fact]
    public void A_descriptor_loop_is_refused_after_at_most_queue_size_steps()
    {
        _ring.SetDescriptor(0, Buffers, 10, GuestRing.Next, 1);
        _ring.SetDescriptor(1, Buffers, 10, GuestRing.Next, 0);
        _ring.Publish(0);
        Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out var chain));
        Assert.Equal(0, chain.Head);
        Assert.Equal(1, _queue.Faults);
        // The head was consumed: the queue moves on.
        Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
    }

    [Fact]
    public void Nested_or_oversized_indirect_tables_and_bad_indices_are_refused()
    {
        _ring.SetDescriptor(0, 0x8000, 16 * 1000, GuestRing.Indirect, 0);     // more entries than the queue
        _ring.Publish(0);
        _ring.SetDescriptor(1, 0x8000, 17, GuestRing.Indirect, 0);            // not a multiple of 16
        _ring.Publish(1);
        _ring.SetDescriptor(2, Buffers, 10, GuestRing.Next, 40);              // next beyond the table
        _ring.Publish(2);
        _ring.Publish(99);                                                    // head beyond the table
        _ram.Span(0x8000, 16).Clear();
        new GuestRing(_ram, 0x8000, 0, 0, 1).SetDescriptor(0, 0x8000, 16, GuestRing.Indirect, 0);
        _ring.SetDescriptor(3, 0x8000, 16, GuestRing.Indirect, 0);            // indirect inside indirect
        _ring.Publish(3);
        for (int i = 0; i < 5; i++) Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out _));
        Assert.Equal(5, _queue.Faults);
    }

    [Fact]
    public void Readable_after_writable_and_address_wrap_are_refused_and_out_of_ram_buffers_fail_the_copy()
    {
        _ring.Add((Buffers, 10, true), (Buffers, 10, false));
        _ring.Add((ulong.MaxValue - 4, 10, false));
        _ring.Add((0x7FFF_0000_0000, 64, false));
        Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out _));
        Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out _));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var outside));
        Assert.Equal(-1, outside.Gather(_ram, new byte[64]));
    }

    [Fact]
    public void An_avail_index_further_ahead_than_the_queue_size_breaks_the_queue_until_reset()
    {
        _ring.SetAvailIndex(1000);
        Assert.Equal(ChainStatus.Broken, _queue.TryPop(_ram, out _));
        Assert.True(_queue.IsBroken);
        Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
        _queue.Reset();
        Assert.False(_queue.IsBroken);
    }

    [Fact]
    public void Chains_published_while_a_batch_is_taken_are_taken_after_it_across_the_ring_end()
    {
        // The avail index and the entries it publishes are read once per batch: 6 chains, 6 more
        // published while those are taken, then 8 that wrap past the end of the 16-entry ring.
        var heads = new List<ushort>();
        var taken = new List<ushort>();
        void Publish(int n) { for (int i = 0; i < n; i++) heads.Add(_ring.Add((Buffers + 0x100UL * (uint)i, 64, true))); }
        void Take(int n)
        {
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var c));
                taken.Add(c.Head);
                Assert.True(_queue.PushUsed(_ram, c.Head, 0));
            }
        }
        Publish(6);
        Take(6);
        Publish(6);
        Take(2);
        Publish(8);
        Take(12);
        Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
        Assert.Equal(heads, taken);
    }

    [Fact]
    public void A_bogus_avail_index_written_during_a_batch_breaks_the_queue_when_the_batch_is_taken()
    {
        _ring.Add((Buffers, 64, true));
        _ring.Add((Buffers + 0x100, 64, true));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out _));
        _ring.SetAvailIndex(1000);
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out _));   // published before the bogus index
        Assert.Equal(ChainStatus.Broken, _queue.TryPop(_ram, out _));
        Assert.True(_queue.IsBroken);
    }

    [Fact]
    public void Ring_memory_outside_ram_is_counted_not_thrown()
    {
        _queue.DriverArea = new GuestAddress(ulong.MaxValue - 1);
        Assert.Equal(ChainStatus.Broken, _queue.TryPop(_ram, out _));
        _queue.Reset();
        _queue.Size = 16;
        _queue.DescriptorTable = new GuestAddress(Desc);
        _queue.DriverArea = new GuestAddress(Avail);
        _queue.DeviceArea = new GuestAddress(0x7FFF_FFFF_0000);
        _queue.Enabled = true;
        _ring.Add((Buffers, 10, false));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
        Assert.False(_queue.PushUsed(_ram, chain.Head, 0));
    }

    [Fact]
    public void Bogus_queue_sizes_leave_the_queue_dead()
    {
        foreach (ushort size in new ushort[] { 0, 3, 32, 17 })
        {
            _queue.Size = size;
            Assert.False(_queue.IsLive);
            Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
        }
    }

    [Fact]
    public void Event_index_interrupts_only_when_the_used_index_passes_used_event_and_avail_event_tracks_the_device()
    {
        _queue.EventIndex = true;
        for (int i = 0; i < 4; i++) _ring.Add((Buffers, 10, false));
        _ring.SetUsedEvent(2);   // "interrupt me once entry 2 is used"
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var c0));
        _queue.PushUsed(_ram, c0.Head, 0);
        Assert.True(_queue.NeedsInterrupt(_ram));        // first decision always signals
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var c1));
        _queue.PushUsed(_ram, c1.Head, 0);
        Assert.False(_queue.NeedsInterrupt(_ram));       // used idx 2: not past used_event 2
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var c2));
        _queue.PushUsed(_ram, c2.Head, 0);
        Assert.True(_queue.NeedsInterrupt(_ram));        // used idx 3 passes 2
        Assert.True(_queue.ArmNotification(_ram));       // entry 3 is still waiting
        Assert.Equal(3, _ring.AvailEvent);
    }

    [Fact]
    public void Without_event_index_no_interrupt_flag_suppresses()
    {
        _ring.Add((Buffers, 10, false));
        _ring.SetAvailFlags(1);
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var c));
        _queue.PushUsed(_ram, c.Head, 0);
        Assert.False(_queue.NeedsInterrupt(_ram));
        _ring.SetAvailFlags(0);
        _ring.Add((Buffers, 10, false));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out c));
        _queue.PushUsed(_ram, c.Head, 0);
        Assert.True(_queue.NeedsInterrupt(_ram));
    }

    [Fact]
    public void Chains_given_back_with_unpop_are_taken_again_in_ring_order_and_a_malformed_one_is_counted_once()
    {
        ushort good = _ring.Add((Buffers, 64, true));
        _ring.SetDescriptor(1, Buffers, 10, GuestRing.Next | GuestRing.Write, 1);   // a loop
        _ring.Publish(1);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
            Assert.Equal(good, chain.Head);
            Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out chain));
            Assert.Equal(1, chain.Head);
            Assert.Equal(ChainStatus.Empty, _queue.TryPop(_ram, out _));
            _queue.Unpop(2);
        }
        Assert.Equal(1, _queue.Faults);
        Assert.Throws<ArgumentOutOfRangeException>(() => _queue.Unpop(17));
        Assert.Throws<ArgumentOutOfRangeException>(() => _queue.Unpop(-1));
    }

    [Fact]
    public void A_refused_chain_goes_back_empty_and_is_counted()
    {
        ushort head = _ring.Add((Buffers, 64, false));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
        Assert.True(_queue.Refuse(_ram, chain.Head));
        Assert.Equal([(head, 0u)], _ring.TakeUsed().Select(u => ((ushort)u.Id, u.Length)).ToList());
        Assert.Equal(1, _queue.Faults);
        Assert.Equal(1, _queue.Completed);
    }

    [Fact]
    public void A_chain_longer_than_4_gib_in_total_is_malformed()
    {
        // 2.7.5.2: each descriptor is in range, together they pass 2^32 bytes.
        _ring.Add((Buffers, 0x8000_0000, true), (Buffers, 0x8000_0000, true));
        _ring.Add((Buffers, 0x8000_0000, true), (Buffers, 0x7FFF_FFFF, true));
        Assert.Equal(ChainStatus.Malformed, _queue.TryPop(_ram, out _));
        Assert.Equal(ChainStatus.Ok, _queue.TryPop(_ram, out var chain));
        Assert.Equal(0xFFFF_FFFFL, chain.WritableLength);
        Assert.Equal(1, _queue.Faults);
    }
}
