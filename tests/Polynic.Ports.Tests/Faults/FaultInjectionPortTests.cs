using Polynic.Core.Nic;
using Polynic.Ports.Faults;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Support;
using static Polynic.Ports.Tests.Faults.FaultFrames;

namespace Polynic.Ports.Tests.Faults;

public sealed class FaultInjectionPortTests
{
    private static readonly FaultSettings TenPercentLoss = new() { Outbound = new DirectionFaults { DropProbability = 0.1 } };

    // Sends 10,000 numbered frames through a fault port on A and returns those B received.
    private static (int[] Received, long Dropped) SendTenThousand(ulong seed, FaultSettings settings)
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions { Seed = seed, Settings = settings });
        var atB = new SequenceRecorder();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());
        for (int i = 0; i < 10_000; i++) Assert.True(faults.Send(Numbered(i)));
        return (atB.Sequences, faults.Counters.Outbound.Dropped);
    }

    [Fact]
    public void Ten_percent_loss_with_a_seed_drops_the_same_frames_every_run()
    {
        var first = SendTenThousand(42, TenPercentLoss);
        var second = SendTenThousand(42, TenPercentLoss);
        var other = SendTenThousand(43, TenPercentLoss);

        Assert.InRange(first.Dropped, 900, 1100);
        Assert.Equal(10_000, first.Received.Length + first.Dropped);
        Assert.Equal(first.Dropped, second.Dropped);
        Assert.Equal(first.Received, second.Received);
        Assert.InRange(other.Dropped, 900, 1100);
        Assert.NotEqual(first.Received, other.Received);
    }

    [Fact]
    public void Inbound_loss_is_reproducible_and_independent_of_outbound_faults()
    {
        int[] Run(FaultSettings settings)
        {
            using var pair = new PortPair();
            using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions { Seed = 7, Settings = settings });
            var atA = new SequenceRecorder();
            faults.Start(atA);
            pair.B.Start(new SequenceRecorder());
            for (int i = 0; i < 2_000; i++)
            {
                pair.B.Send(Numbered(i));
                faults.Send(Numbered(i));
            }
            Assert.Equal(2_000, atA.Count + faults.Counters.Inbound.Dropped);
            return atA.Sequences;
        }

        var inboundOnly = new DirectionFaults { DropProbability = 0.25 };
        var quiet = Run(new FaultSettings { Inbound = inboundOnly });
        var busy = Run(new FaultSettings { Inbound = inboundOnly, Outbound = new DirectionFaults { DropProbability = 0.5, CorruptProbability = 0.5 } });

        Assert.InRange(quiet.Length, 1_350, 1_650);
        Assert.Equal(quiet, busy);
    }

    [Fact]
    public void Corruption_changes_exactly_one_byte_after_the_ethernet_header_of_a_copy()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Seed = 5,
            Settings = new FaultSettings { Outbound = new DirectionFaults { CorruptProbability = 1 } },
        });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());

        var sent = Enumerable.Range(0, 200).Select(i => Numbered(i, 18 + i % 100)).ToArray();
        var originals = sent.Select(frame => frame.ToArray()).ToArray();
        foreach (var frame in sent) Assert.True(faults.Send(frame));

        var received = atB.Received;
        Assert.Equal(200, received.Length);
        var positions = new HashSet<int>();
        for (int i = 0; i < sent.Length; i++)
        {
            Assert.Equal(originals[i], sent[i]);
            Assert.Equal(sent[i].Length, received[i].Length);
            int[] changed = Enumerable.Range(0, sent[i].Length).Where(at => sent[i][at] != received[i][at]).ToArray();
            positions.Add(Assert.Single(changed));
            Assert.True(changed[0] >= 14, $"frame {i}: byte {changed[0]} changed");
        }
        Assert.True(positions.Count > 20, "the changed byte should move around");
        Assert.Equal(200, faults.Counters.Outbound.Corrupted);
    }

    [Fact]
    public void A_frame_of_only_an_ethernet_header_is_never_corrupted()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, ownsInner: false);
        var atA = new FrameRecorder();
        faults.Start(atA);
        pair.B.Start(new FrameRecorder());
        faults.Settings = new FaultSettings { Inbound = new DirectionFaults { CorruptProbability = 1 } };

        var header = Frames.Ethernet(MacA, MacB, 0x88B5, []);
        pair.B.Send(header);

        Assert.Equal(header, Assert.Single(atA.Received));
        Assert.Equal(0, faults.Counters.Inbound.Corrupted);
    }

    [Fact]
    public void Forced_link_down_is_reported_refuses_sends_drops_receives_and_comes_back_up()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A);
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        faults.Start(atA);
        pair.B.Start(atB);

        faults.Settings = new FaultSettings { LinkDown = true };
        Assert.False(faults.LinkUp);
        Assert.False(faults.Send(Numbered(1)));
        Assert.True(pair.B.Send(Numbered(2)));
        Assert.Empty(atB.Received);
        Assert.Empty(atA.Received);
        Assert.Equal(1, faults.Counters.Outbound.LinkDown);
        Assert.Equal(1, faults.Counters.Inbound.LinkDown);

        faults.Settings = faults.Settings with { Outbound = new DirectionFaults { DropProbability = 0.5 } };
        faults.Settings = FaultSettings.None;
        Assert.True(faults.LinkUp);
        Assert.True(faults.Send(Numbered(3)));
        Assert.Equal([false, true], atA.Links);
        Assert.Equal(2, faults.Counters.LinkTransitions);
    }

    [Fact]
    public void Forced_and_real_link_states_combine_into_one_sequence_of_changes()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A);
        var atA = new FrameRecorder();
        faults.Start(atA);
        pair.B.Start(new FrameRecorder());

        faults.Settings = new FaultSettings { LinkDown = true };   // down
        pair.Disconnect();                                         // still down: not reported again
        faults.Settings = FaultSettings.None;                      // cable still out: stays down
        Assert.False(faults.LinkUp);
        pair.Connect();                                            // up
        pair.Disconnect();                                         // down, passed through
        pair.Connect();                                            // up

        Assert.Equal([false, true, false, true], atA.Links);
    }

    [Fact]
    public void A_port_created_with_the_link_forced_down_reports_it_through_link_up()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions { Settings = new FaultSettings { LinkDown = true } });
        var atA = new FrameRecorder();
        faults.Start(atA);

        Assert.False(faults.LinkUp);
        faults.Settings = FaultSettings.None;
        Assert.Equal([true], atA.Links);
    }

    [Fact]
    public void Dispose_stops_the_delay_thread_and_disposes_the_inner_port_it_owns()
    {
        using var pair = new PortPair();
        var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromSeconds(30) } },
        });
        faults.Start(new FrameRecorder());
        pair.B.Start(new FrameRecorder());
        Assert.True(faults.Send(Numbered(1)));
        Assert.True(faults.IsDelayThreadRunning);

        faults.Dispose();
        faults.Dispose();

        Assert.False(faults.IsDelayThreadRunning);
        Assert.True(pair.A.IsDisposed);
        Assert.False(faults.Send(Numbered(2)));
    }

    [Fact]
    public void Settings_out_of_range_are_refused_and_the_old_ones_stay()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A);

        Assert.Throws<ArgumentOutOfRangeException>(() => faults.Settings = new FaultSettings { Outbound = new DirectionFaults { DropProbability = 1.5 } });
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.Settings = new FaultSettings { Inbound = new DirectionFaults { CorruptProbability = double.NaN } });
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.Settings = new FaultSettings { Inbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(-1) } });
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.Settings = new FaultSettings { Inbound = new DirectionFaults { Delay = TimeSpan.FromMinutes(2) } });
        Assert.Throws<ArgumentOutOfRangeException>(() => new FaultInjectionPort(pair.B, new FaultInjectionOptions { DelayQueueFrames = 0 }));
        Assert.Same(FaultSettings.None, faults.Settings);
    }

    [Fact]
    public void Settings_can_change_while_frames_flow_from_another_thread()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions { Seed = 3 });
        var atB = new SequenceRecorder();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());
        FaultSettings[] variants =
        [
            FaultSettings.None,
            TenPercentLoss,
            new() { Outbound = new DirectionFaults { DropProbability = 0.5, Delay = TimeSpan.FromMilliseconds(1) } },
            new() { LinkDown = true },
        ];
        using var stop = new CancellationTokenSource();
        var changer = new Thread(() =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++) faults.Settings = variants[i % variants.Length];
        });
        changer.Start();

        int accepted = 0;
        for (int i = 0; i < 20_000; i++) if (faults.Send(Numbered(i))) accepted++;
        stop.Cancel();
        changer.Join();
        faults.Settings = FaultSettings.None;

        // Every frame is accounted for: refused (link down, queue full), lost on purpose, lost in
        // the queue when the link went down before it was due, or delivered - in order.
        var counters = faults.Counters.Outbound;
        long refusedWhileDown = 20_000 - accepted - counters.QueueFull;
        Assert.InRange(refusedWhileDown, 0, counters.LinkDown);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        long expected;
        while ((expected = accepted - counters.Dropped - (counters.LinkDown - refusedWhileDown)) != atB.Count && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        Assert.Equal(expected, atB.Count);
        Assert.Equal(atB.Sequences.Order(), atB.Sequences);
    }

    [Fact]
    public void Sending_through_faults_allocates_nothing()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings
            {
                Outbound = new DirectionFaults { DropProbability = 0.1, CorruptProbability = 0.5, Delay = TimeSpan.FromMilliseconds(1), Jitter = TimeSpan.FromMilliseconds(1) },
            },
        });
        faults.Start(new FrameRecorder());
        var atB = new SequenceRecorder(100_000);
        pair.B.Start(atB);
        var frame = Numbered(1, 200);

        Allocations(() =>
        {
            for (int i = 0; i < 100; i++) faults.Send(frame);
        });
        Assert.Equal(0, faults.Counters.Outbound.QueueFull);
    }

    private static void Allocations(Action body)
    {
        body();
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);
    }
}
