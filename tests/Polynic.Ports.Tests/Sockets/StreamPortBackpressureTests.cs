using System.Diagnostics;
using System.Net.Sockets;
using Polynic.Core.Nic;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>A slow peer costs dropped frames, never a blocked sender or a torn stream; the frame path allocates nothing.</summary>
public sealed class StreamPortBackpressureTests
{
    [Fact]
    public void A_peer_that_stops_reading_costs_dropped_frames_never_a_blocked_send_or_a_torn_stream()
    {
        using var server = SocketTestKit.StartServer(new FrameRecorder());
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        raw.Connect(server.LocalEndPoint!);
        raw.ReceiveTimeout = (int)SocketTestKit.Timeout.TotalMilliseconds;
        Assert.True(SocketTestKit.WaitUntil(() => server.LinkUp));

        var accepted = new List<int>();
        var slowest = TimeSpan.Zero;
        int refusedInARow = 0;
        for (int sequence = 0; sequence < 20_000 && refusedInARow < 50; sequence++)
        {
            var frame = SocketTestKit.Frame(9000, sequence);
            var clock = Stopwatch.StartNew();
            bool sent = server.Send(frame);
            if (clock.Elapsed > slowest) slowest = clock.Elapsed;
            if (sent)
            {
                accepted.Add(sequence);
                refusedInARow = 0;
            }
            else
            {
                refusedInARow++;
            }
        }

        Assert.True(refusedInARow >= 50, "the port never refused a frame although the peer reads nothing");
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"a Send took {slowest}"); // a Send that waited for the peer would wait for ever
        Assert.True(server.StreamCounters.BackloggedSends > 0);
        Assert.True(server.StreamCounters.BacklogDrops >= 50);
        Assert.Equal(server.StreamCounters.BacklogDrops, server.Counters.SendFailures);
        Assert.True(server.LinkUp, "a slow peer is not a lost peer");

        // Now read: every accepted frame arrives whole, in order, nothing else in between.
        foreach (int sequence in accepted)
        {
            var frame = SocketTestKit.ReadFramed(raw);
            Assert.Equal(sequence, SocketTestKit.Sequence(frame));
            Assert.Equal(SocketTestKit.Frame(9000, sequence), frame);
        }

        // And the backlog is empty again: a new frame goes straight through.
        Assert.True(SocketTestKit.WaitUntil(() => server.Send(SocketTestKit.Frame(60, -1))));
        Assert.Equal(-1, SocketTestKit.Sequence(SocketTestKit.ReadFramed(raw)));
    }

    [Fact]
    public void Steady_state_sending_and_receiving_allocate_nothing()
    {
        var counting = new AllocationCountingReceiver();
        using var server = SocketTestKit.StartServer(counting);
        using var client = Polynic.Ports.Sockets.StreamPort.Open(new Polynic.Ports.Sockets.StreamPortOptions { Address = server.LocalEndPoint! });
        client.Start(new FrameRecorder());
        Assert.True(SocketTestKit.WaitUntil(() => server.LinkUp && client.LinkUp));

        var frame = SocketTestKit.Frame(1514, 0);
        long best = long.MaxValue;
        for (int attempt = 0; attempt < 5 && best != 0; attempt++)
        {
            // Warm-up lets JIT tiering and first-call paths settle before measuring.
            // Liveness, not speed: the previous round's backlog must drain, which on a loaded machine can take a while.
            for (int i = 0; i < 200; i++) Assert.True(SocketTestKit.WaitUntil(() => client.Send(frame), TimeSpan.FromSeconds(30)));
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) client.Send(frame);
            best = Math.Min(best, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, best);

        // The receive thread: compare its allocation counter between two frames far apart.
        long receivedBest = long.MaxValue;
        for (int attempt = 0; attempt < 5 && receivedBest != 0; attempt++)
        {
            counting.Mark();
            for (int i = 0; i < 1000; i++) SocketTestKit.WaitUntil(() => client.Send(frame));
            Assert.True(SocketTestKit.WaitUntil(() => counting.Measured is not null));
            receivedBest = Math.Min(receivedBest, counting.Measured!.Value);
        }
        Assert.Equal(0, receivedBest);
    }

    /// <summary>Reads the receive thread's allocation counter at frame N and N+500 of a marked run, allocating nothing itself.</summary>
    private sealed class AllocationCountingReceiver : IPortReceiver
    {
        private int _frames = -1;
        private long _start;
        private long _measured = -1;

        public long? Measured => Volatile.Read(ref _measured) is var value && value >= 0 ? value : null;

        public void Mark()
        {
            Volatile.Write(ref _measured, -1);
            Volatile.Write(ref _frames, 0);
        }

        public void Receive(ReadOnlySpan<byte> frame)
        {
            int count = Volatile.Read(ref _frames);
            if (count < 0) return;
            if (count == 100) _start = GC.GetAllocatedBytesForCurrentThread();
            if (count == 600)
            {
                Volatile.Write(ref _measured, GC.GetAllocatedBytesForCurrentThread() - _start);
                Volatile.Write(ref _frames, -1);
                return;
            }
            Volatile.Write(ref _frames, count + 1);
        }

        public void LinkChanged(bool up)
        {
        }
    }
}
