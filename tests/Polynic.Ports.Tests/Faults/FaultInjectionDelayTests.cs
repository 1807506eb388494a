using System.Diagnostics;
using Polynic.Core.Nic;
using Polynic.Ports.Faults;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Support;
using static Polynic.Ports.Tests.Faults.FaultFrames;

namespace Polynic.Ports.Tests.Faults;

public sealed class FaultInjectionDelayTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Notes when (Stopwatch time) and on which thread each numbered frame arrived.</summary>
    private sealed class TimedReceiver : IPortReceiver
    {
        private readonly object _gate = new();
        private readonly List<(int Sequence, long At, int Thread)> _arrivals = [];

        public (int Sequence, long At, int Thread)[] Arrivals { get { lock (_gate) return [.. _arrivals]; } }

        public void Receive(ReadOnlySpan<byte> frame)
        {
            lock (_gate) _arrivals.Add((SequenceOf(frame), Stopwatch.GetTimestamp(), Environment.CurrentManagedThreadId));
        }

        public void LinkChanged(bool up)
        {
        }

        public bool WaitForCount(int count)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (Arrivals.Length < count && DateTime.UtcNow < deadline) Thread.Sleep(5);
            return Arrivals.Length >= count;
        }
    }

    [Fact]
    public void Delayed_outbound_frames_arrive_later_than_sent_in_order_despite_jitter()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Seed = 11,
            Settings = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(20), Jitter = TimeSpan.FromMilliseconds(15) } },
        });
        var atB = new TimedReceiver();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());

        var sentAt = new long[50];
        for (int i = 0; i < sentAt.Length; i++)
        {
            sentAt[i] = Stopwatch.GetTimestamp();
            Assert.True(faults.Send(Numbered(i)));
            if (i % 10 == 0) Thread.Sleep(3);
        }

        Assert.True(atB.WaitForCount(50));
        var arrivals = atB.Arrivals;
        Assert.Equal(Enumerable.Range(0, 50), arrivals.Select(a => a.Sequence));
        foreach (var (sequence, at, thread) in arrivals)
        {
            // The smallest possible delay is 20 - 15 ms; no upper bound beyond the patience above.
            Assert.True(Stopwatch.GetElapsedTime(sentAt[sequence], at) >= TimeSpan.FromMilliseconds(5),
                $"frame {sequence} after {Stopwatch.GetElapsedTime(sentAt[sequence], at).TotalMilliseconds} ms");
            Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
        }
        Assert.Equal(50, faults.Counters.Outbound.Delayed);
    }

    [Fact]
    public void Delayed_inbound_frames_reach_the_nic_on_the_delay_thread_in_order()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Inbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(10), Jitter = TimeSpan.FromMilliseconds(10) } },
        });
        var atA = new TimedReceiver();
        faults.Start(atA);
        pair.B.Start(new FrameRecorder());

        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 20; i++) Assert.True(pair.B.Send(Numbered(i)));

        Assert.True(atA.WaitForCount(20));
        var arrivals = atA.Arrivals;
        Assert.Equal(Enumerable.Range(0, 20), arrivals.Select(a => a.Sequence));
        Assert.All(arrivals, a => Assert.True(a.At > start));
        Assert.Single(arrivals.Select(a => a.Thread).Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, arrivals[0].Thread);
    }

    [Fact]
    public void Frames_sent_without_delay_queue_behind_frames_still_delayed()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(100) } },
        });
        var atB = new TimedReceiver();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());

        for (int i = 0; i < 5; i++) faults.Send(Numbered(i));
        faults.Settings = FaultSettings.None;
        for (int i = 5; i < 10; i++) faults.Send(Numbered(i));

        Assert.True(atB.WaitForCount(10));
        Assert.Equal(Enumerable.Range(0, 10), atB.Arrivals.Select(a => a.Sequence));
    }

    [Fact]
    public void A_full_delay_queue_drops_and_counts_by_frames_and_by_bytes()
    {
        var slow = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromSeconds(30) } };
        using var pair = new PortPair();
        using var byFrames = new FaultInjectionPort(pair.A, new FaultInjectionOptions { Settings = slow, DelayQueueFrames = 4 }, ownsInner: false);
        byFrames.Start(new FrameRecorder());
        pair.B.Start(new FrameRecorder());

        bool[] accepted = Enumerable.Range(0, 10).Select(i => byFrames.Send(Numbered(i))).ToArray();

        Assert.Equal([true, true, true, true, false, false, false, false, false, false], accepted);
        Assert.Equal(4, byFrames.Counters.Outbound.Delayed);
        Assert.Equal(6, byFrames.Counters.Outbound.QueueFull);

        using var other = new PortPair();
        using var byBytes = new FaultInjectionPort(other.A, new FaultInjectionOptions { Settings = slow, DelayQueueBytes = 1000 });
        byBytes.Start(new FrameRecorder());
        other.B.Start(new FrameRecorder());
        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(i => byBytes.Send(Numbered(i, 300))));
        Assert.True(byBytes.Send(Numbered(4, 100)));
        Assert.Equal(1, byBytes.Counters.Outbound.QueueFull);
    }

    [Fact]
    public void The_delay_queue_wraps_around_its_buffer_and_keeps_every_frame_intact()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(1) } },
            DelayQueueBytes = 2000,
            DelayQueueFrames = 8,
        });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());

        // Sizes that do not divide the buffer, sent faster than they leave: the queue fills,
        // wraps and refuses; whatever is accepted must come out whole and in order.
        var sent = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            var frame = Numbered(i, 60 + i * 37 % 500);
            if (faults.Send(frame)) sent.Add(frame);
            if (i % 7 == 0) Thread.Sleep(1);
        }

        Assert.Equal(sent.Count, atB.WaitForCount(sent.Count, Patience));
        Assert.Equal(sent, atB.Received);
        Assert.Equal(300, sent.Count + faults.Counters.Outbound.QueueFull);
    }

    [Fact]
    public void Frames_still_delayed_when_the_link_is_forced_down_are_lost()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Outbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(200) } },
        });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        faults.Start(new FrameRecorder());

        for (int i = 0; i < 3; i++) Assert.True(faults.Send(Numbered(i)));
        faults.Settings = new FaultSettings { LinkDown = true };

        var deadline = DateTime.UtcNow + Patience;
        while (faults.Counters.Outbound.LinkDown < 3 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Equal(3, faults.Counters.Outbound.LinkDown);
        Assert.Empty(atB.Received);
    }

    [Fact]
    public void A_receiver_that_throws_on_the_delay_thread_does_not_stop_it()
    {
        using var pair = new PortPair();
        using var faults = new FaultInjectionPort(pair.A, new FaultInjectionOptions
        {
            Settings = new FaultSettings { Inbound = new DirectionFaults { Delay = TimeSpan.FromMilliseconds(1) } },
        });
        var thrower = new ThrowingReceiver();
        faults.Start(thrower);
        pair.B.Start(new FrameRecorder());

        pair.B.Send(Numbered(1));
        pair.B.Send(Numbered(2));

        var deadline = DateTime.UtcNow + Patience;
        while (thrower.Calls < 2 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.Equal(2, thrower.Calls);
        Assert.IsType<InvalidOperationException>(faults.LastReceiverFault);
        Assert.True(faults.IsDelayThreadRunning);
    }

    private sealed class ThrowingReceiver : IPortReceiver
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Receive(ReadOnlySpan<byte> frame)
        {
            Interlocked.Increment(ref _calls);
            throw new InvalidOperationException("receiver failure");
        }

        public void LinkChanged(bool up)
        {
        }
    }
}
