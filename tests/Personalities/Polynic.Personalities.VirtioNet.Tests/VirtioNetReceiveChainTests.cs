using System.Buffers.Binary;
using Polynic.Core.Tests.Virtio;
using Polynic.Core.Virtio;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.VirtioNet.Tests.Support;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;

namespace Polynic.Personalities.VirtioNet.Tests;

/// <summary>
/// Receive chains a hostile or buggy driver gets wrong: each goes back to the driver exactly once,
/// empty, and is counted once on the queue and on the device; the frame goes into the good chains
/// around it, and a frame that has to wait for more buffers gives back exactly the good ones it
/// took, so no buffer is lost and no head is used twice.
/// </summary>
public class VirtioNetReceiveChainTests
{
    private const ulong Features = VirtioFeatures.Version1 | Mac | Status | Csum | GuestCsum | CtrlVq | CtrlRx | MrgRxbuf | VirtioFeatures.IndirectDescriptors;
    private const ulong A = 0x80_0000, Bad = 0x81_0000, B = 0x82_0000, C = 0x83_0000, D = 0x84_0000;
    private const uint Buffer = 1536;

    public static TheoryData<string> Kinds => new()
    {
        "device-readable", "zero-length", "shorter than the header", "outside RAM", "loop", "indirect table longer than the queue",
        "longer than 4 GiB", "head beyond the ring",
    };

    /// <summary>Adds one receive chain that is wrong in the way <paramref name="kind"/> says; returns the head the device will see.</summary>
    private static ushort AddBad(VirtioNetRig r, string kind)
    {
        var ring = r.Rx();
        if (kind == "longer than 4 GiB")
        {
            // 2.7.5.2: a chain may not exceed 2^32 bytes in total; each descriptor alone is in range.
            ushort first = ring.Add((Bad, Buffer, true), (Bad + 0x1000, Buffer, true));
            ring.SetDescriptor(first, Bad, 0x9000_0000, (ushort)(GuestRing.Write | GuestRing.Next), (ushort)(first + 1));
            ring.SetDescriptor((ushort)(first + 1), Bad + 0x1000, 0x9000_0000, GuestRing.Write, 0);
            return first;
        }
        ushort head = ring.Add((Bad, Buffer, true));
        switch (kind)
        {
            case "device-readable": ring.SetDescriptor(head, Bad, Buffer, 0, 0); break;
            case "zero-length": ring.SetDescriptor(head, Bad, 0, GuestRing.Write, 0); break;
            case "shorter than the header": ring.SetDescriptor(head, Bad, 8, GuestRing.Write, 0); break;
            case "outside RAM": ring.SetDescriptor(head, 0x7FFF_0000_0000, Buffer, GuestRing.Write, 0); break;
            case "loop": ring.SetDescriptor(head, Bad, 100, (ushort)(GuestRing.Write | GuestRing.Next), head); break;
            case "indirect table longer than the queue": ring.SetDescriptor(head, 0x20_0000, 16 * (VirtioNetDevice.QueueSize + 1), GuestRing.Indirect, 0); break;
            case "head beyond the ring":
                // The avail entry names a descriptor the table does not have.
                ring.ReplaceLastHead(200);
                return 200;
            default: throw new ArgumentException(kind);
        }
        return head;
    }

    private static void AssertCountedOnce(VirtioNetRig r, string kind)
    {
        Assert.Equal(1, r.Nic.Transport.Queues[0].Faults);
        Assert.Equal(1, r.Nic.Counters.DescriptorFaults + r.Nic.Counters.DmaFaults);
        if (kind == "outside RAM") Assert.Equal(1, r.Nic.Counters.DmaFaults);
        Assert.Null(r.Machine.Function(r.Slot).FailureReason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_bad_chain_ahead_of_a_good_one_goes_back_empty_once_counted_and_the_frame_takes_the_good_one(string kind)
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        ushort bad = AddBad(r, kind);
        ushort good = r.Rx().Add((A, Buffer, true));
        r.Kick(0);
        var frame = Frames.Raw(VirtioNetRig.Mac, 200);
        Assert.True(r.Pair!.B.Send(frame));

        Assert.Equal([((uint)bad, 0u), (good, 212u)], r.Rx().TakeUsed());
        Assert.Equal(frame, r.Ram(A + 12, 200).ToArray());
        Assert.Equal(1, r.Nic.Counters.RxFrames);
        AssertCountedOnce(r, kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_mergeable_frame_that_waits_behind_a_bad_chain_takes_exactly_the_good_buffers_in_ring_order(string kind)
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        var ring = r.Rx();
        ushort a = ring.Add((A, Buffer, true));
        ushort bad = AddBad(r, kind);
        ushort b = ring.Add((B, Buffer, true));
        r.Kick(0);
        // 12 + 4000 bytes: three 1536-byte buffers, and only two good ones are there.
        var first = Frames.Raw(VirtioNetRig.Mac, 4000, seed: 1);
        Assert.True(r.Pair!.B.Send(first));
        Assert.Equal(0, r.Nic.Counters.RxFrames);

        ushort c = ring.Add((C, Buffer, true));
        ushort d = ring.Add((D, Buffer, true));
        r.Kick(0);
        var second = Frames.Raw(VirtioNetRig.Mac, 200, seed: 2);
        Assert.True(r.Pair.B.Send(second));

        // The bad chain once, empty, ahead of the frame; the frame in A, B, C together; the next frame in D.
        Assert.Equal([((uint)bad, 0u), (a, Buffer), (b, Buffer), (c, 12u + 4000 - 2 * Buffer), (d, 212u)], ring.TakeUsed());
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(r.Ram(A + 10, 2)));
        var got = r.Ram(A + 12, (int)Buffer - 12).ToArray().Concat(r.Ram(B, (int)Buffer).ToArray()).Concat(r.Ram(C, 4000 + 12 - 2 * (int)Buffer).ToArray());
        Assert.Equal(first, got.ToArray());
        Assert.Equal(second, r.Ram(D + 12, 200).ToArray());
        Assert.Equal(2, r.Nic.Counters.RxFrames);
        AssertCountedOnce(r, kind);
    }

    [Fact]
    public void A_ring_of_bad_chains_around_too_few_good_ones_goes_back_and_the_frame_waits_for_new_buffers()
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        var ring = r.Rx();
        // One good buffer, then a ring's worth of chains with device-readable buffers.
        ushort a = ring.Add((A, Buffer, true));
        for (int i = 1; i < VirtioNetRig.RingSize; i++) ring.Add((Bad, Buffer, false));
        r.Kick(0);
        var frame = Frames.Raw(VirtioNetRig.Mac, 4000);
        Assert.True(r.Pair!.B.Send(frame));

        // Nothing more can come while the device holds the whole ring: every chain goes back once,
        // the good one empty too (it sits before refused ones, so it cannot be given back unused).
        var returned = ring.TakeUsed();
        Assert.Equal(VirtioNetRig.RingSize, returned.Count);
        Assert.Equal(Enumerable.Range(0, VirtioNetRig.RingSize).Select(h => (uint)h).Order(), returned.Select(u => u.Id).Order());
        Assert.All(returned, u => Assert.Equal(0u, u.Length));
        Assert.Equal(0, r.Nic.Counters.RxFrames);

        ushort[] fresh = [ring.Add((B, Buffer, true)), ring.Add((C, Buffer, true)), ring.Add((D, Buffer, true))];
        r.Kick(0);
        Assert.Equal([((uint)fresh[0], Buffer), (fresh[1], Buffer), (fresh[2], 12u + 4000 - 2 * Buffer)], ring.TakeUsed());
        Assert.Equal(1, r.Nic.Counters.RxFrames);
        Assert.Equal(VirtioNetRig.RingSize - 1, r.Nic.Transport.Queues[0].Faults);
        Assert.Equal(VirtioNetRig.RingSize - 1, r.Nic.Counters.DescriptorFaults);
        _ = a;
    }

    [Fact]
    public void A_header_split_across_descriptors_is_not_a_fault_and_num_buffers_lands_across_them()
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        // 5.1.6.3.1, note: a buffer may be split across descriptors; here num_buffers' two bytes
        // fall into different ones (11 + 1525 bytes), then a second buffer.
        ushort first = r.Rx().Add((A, 11, true), (A + 0x1000, Buffer - 11, true));
        ushort second = r.Rx().Add((B, Buffer, true));
        r.Kick(0);
        var frame = Frames.Raw(VirtioNetRig.Mac, 2000);
        Assert.True(r.Pair!.B.Send(frame));

        Assert.Equal([((uint)first, Buffer), (second, 12u + 2000 - Buffer)], r.Rx().TakeUsed());
        Assert.Equal(2, r.Ram(A + 10, 1)[0] | r.Ram(A + 0x1000, 1)[0] << 8);
        Assert.Equal(frame.AsSpan(0, (int)Buffer - 12).ToArray(), r.Ram(A + 0x1000 + 1, (int)Buffer - 12).ToArray());
        Assert.Equal(0, r.Nic.Transport.Queues[0].Faults);
        Assert.Equal(0, r.Nic.Counters.DescriptorFaults);
    }

    /// <summary>
    /// Guest RAM seen through a second vCPU's driver: whenever the device reads the receive ring's
    /// avail index (once per chain it takes, and when it re-arms), the driver has just added another
    /// chain, with a device-readable buffer while <see cref="Hostile"/>, else one good chain once.
    /// It keeps at most a ring's worth outstanding, as a driver must, and stops after
    /// <see cref="MaxAdded"/> bad chains so that a device without a bound still comes back.
    /// </summary>
    private sealed class AddingDriver(Polynic.TestMachine.GuestRam ram, GuestRing ring) : Polynic.Core.Memory.IGuestMemory
    {
        public const int MaxAdded = 20 * VirtioNetRig.RingSize;
        private int _entriesRead;
        private int _added;
        private bool _goodAdded;

        public volatile bool Hostile = true;
        public int BadAdded;
        public ushort GoodHead;

        /// <summary>Used elements the driver reclaimed before adding (a ring's worth at most is outstanding, so none is overwritten unread).</summary>
        public List<(uint Id, uint Length)> Used { get; } = [];

        public void Reclaim()
        {
            lock (Used) Used.AddRange(ring.TakeUsed());
        }

        /// <summary>Avail ring entries the device has read: the chains it took.</summary>
        public int EntriesRead => Volatile.Read(ref _entriesRead);

        /// <summary>Of those, the ones read on the thread that created the driver (the test's, playing the port).</summary>
        public int EntriesReadHere;

        private readonly int _here = Environment.CurrentManagedThreadId;

        public bool TryRead(Polynic.Core.Memory.GuestAddress address, Span<byte> destination)
        {
            ulong at = address.Value;
            if (at == ring.Avail + 2 && destination.Length == 2) AddChain();
            else if (at >= ring.Avail + 4 && at < ring.Avail + 4 + 2UL * ring.Size)
            {
                Interlocked.Increment(ref _entriesRead);
                if (Environment.CurrentManagedThreadId == _here) EntriesReadHere++;
            }
            return ram.TryRead(address, destination);
        }

        public bool TryWrite(Polynic.Core.Memory.GuestAddress address, ReadOnlySpan<byte> source) => ram.TryWrite(address, source);

        private void AddChain()
        {
            Reclaim();
            ushort availIdx = BinaryPrimitives.ReadUInt16LittleEndian(ram.Span(ring.Avail + 2, 2));
            if ((ushort)(availIdx - ring.UsedIndex) >= ring.Size || (Hostile ? _added >= MaxAdded : _goodAdded)) return;
            _added++;
            if (Hostile)
            {
                BadAdded++;
                ring.Add((Bad, Buffer, false));
                return;
            }
            _goodAdded = true;
            GoodHead = ring.Add((A, Buffer, true));
        }
    }

    [Fact]
    public void A_driver_that_adds_a_bad_chain_whenever_the_device_takes_one_costs_at_most_a_ring_per_look()
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        var driver = new AddingDriver(r.Machine.Ram, r.Rx());
        r.Machine.Function(r.Slot).Connect(driver, r.Interrupts);
        var frame = Frames.Raw(VirtioNetRig.Mac, 200);

        // The port's thread delivers the frame with the device lock held: it must come back after
        // at most a ring's worth of chains, not when the other vCPU tires.
        Assert.True(r.Pair!.B.Send(frame));
        Assert.InRange(driver.EntriesReadHere, 1, VirtioNetRig.RingSize);
        Assert.Equal(0, r.Nic.Counters.RxFrames);

        // The queue worker keeps looking, a bounded ring per look with the lock released between:
        // a register read answers meanwhile.
        Assert.True(SpinWait.SpinUntil(() => driver.EntriesRead > 2 * VirtioNetRig.RingSize, TimeSpan.FromSeconds(10)), "the worker never looked again");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        r.Read(0x14, 1);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"a register read took {clock.ElapsedMilliseconds} ms");

        // The driver behaves again: the frame lands in its good chain, and every bad chain came
        // back once and was counted once.
        driver.Hostile = false;
        Assert.True(SpinWait.SpinUntil(() => r.Nic.Counters.RxFrames == 1, TimeSpan.FromSeconds(10)), "the frame was never delivered");
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)));
        driver.Reclaim();
        var used = driver.Used;
        Assert.Equal(driver.BadAdded + 1, used.Count);
        Assert.Equal(((uint)driver.GoodHead, 212u), used[^1]);
        Assert.All(used.SkipLast(1), u => Assert.Equal(0u, u.Length));
        Assert.Equal(frame, r.Ram(A + 12, 200).ToArray());
        Assert.Equal(driver.BadAdded, r.Nic.Transport.Queues[0].Faults);
        Assert.Equal(driver.BadAdded, r.Nic.Counters.DescriptorFaults);
    }

    [Fact]
    public void Delivering_a_mergeable_frame_past_a_refused_chain_allocates_nothing()
    {
        using var r = new VirtioNetRig();
        r.Start(Features);
        var ring = r.Rx();
        var frame = Frames.Raw(VirtioNetRig.Mac, 3000);
        long Deliver()
        {
            // Posting is the driver's work (it allocates in the test's GuestRing); only the delivery is measured.
            // Good, refused, good: the frame's two buffers with a refused chain set aside between them.
            ring.Add((A, Buffer, true));
            ring.Add((Bad, Buffer, false));
            ring.Add((C, Buffer, true));
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Pair!.B.Send(frame);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(3, ring.TakeUsed().Count);
            return allocated;
        }
        // The fault log writes (and allocates) for the first refusals of each second only: past its
        // burst, a refusal costs nothing. More attempts than a burst, in case a new second began.
        for (int i = 0; i <= r.Nic.Faults.Burst; i++) Deliver();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 2 * r.Nic.Faults.Burst + 2 && best != 0; attempt++) best = Math.Min(best, Deliver());
        Assert.Equal(0, best);
        Assert.True(r.Nic.Faults.Suppressed > 0);
        Assert.Equal(r.Nic.Counters.RxFrames, r.Nic.Counters.DescriptorFaults);
    }
}
