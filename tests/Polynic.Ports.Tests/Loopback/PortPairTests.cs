using Polynic.Core.Nic;
using Polynic.Ports.Loopback;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Loopback;

public sealed class PortPairTests
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0xA];
    private static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0xB];
    private static readonly byte[] IpA = [192, 0, 2, 10];
    private static readonly byte[] IpB = [192, 0, 2, 11];
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private static byte[] Frame(byte marker) => Frames.Ethernet(MacB, MacA, 0x88B5, [marker, 1, 2, 3]);

    [Fact]
    public void Inline_delivery_reaches_the_other_end_before_send_returns_both_ways()
    {
        using var pair = new PortPair();
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        pair.A.Start(atA);
        pair.B.Start(atB);

        Assert.True(pair.A.Send(Frame(1)));
        Assert.Equal(Frame(1), Assert.Single(atB.Received));
        Assert.True(pair.B.Send(Frame(2)));
        Assert.Equal(Frame(2), Assert.Single(atA.Received));

        Assert.Equal(1, pair.A.Counters.FramesSent);
        Assert.Equal(18, pair.A.Counters.BytesSent);
        Assert.Equal(1, pair.B.Counters.FramesReceived);
        Assert.Equal(18, pair.B.Counters.BytesReceived);
        Assert.Equal(Environment.CurrentManagedThreadId, Assert.Single(atB.ReceiveThreads));
        Assert.Equal(["loop:a", "loop:b"], new[] { pair.A.Name, pair.B.Name });
    }

    [Fact]
    public void A_frame_to_an_end_that_is_not_started_is_dropped_and_counted()
    {
        using var pair = new PortPair();
        pair.A.Start(new FrameRecorder());

        Assert.False(pair.A.Send(Frame(1)));
        Assert.Equal(1, pair.A.Counters.SendFailures);
        Assert.Equal(0, pair.A.Counters.FramesSent);
    }

    [Fact]
    public void Offloads_beyond_the_capabilities_are_refused()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum });
        pair.B.Start(new FrameRecorder());
        var tso = new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1000);

        Assert.Equal(PortCapabilities.Checksum, pair.A.Capabilities);
        Assert.Equal(PortCapabilities.None, pair.B.Capabilities);
        Assert.False(pair.A.Send(Tcp(new byte[3000]), tso));
        Assert.False(pair.B.Send(Tcp([]), new FrameOffload(true, 34, 16, GsoType.None, 0, 0)));
        Assert.Equal(1, pair.A.Counters.SendFailures);
        Assert.Equal(1, pair.B.Counters.SendFailures);
    }

    [Fact]
    public void Partial_checksum_is_completed_before_delivery()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        byte[] frame = Tcp("hello"u8.ToArray());
        Assert.False(Frames.TcpV4ChecksumsValid(frame));

        Assert.True(pair.A.Send(frame, new FrameOffload(true, 34, 16, GsoType.None, 0, 0)));

        var received = Assert.Single(atB.Received);
        Assert.True(Frames.TcpV4ChecksumsValid(received));
        Assert.Equal(Tcp("hello"u8.ToArray(), Frames.TcpChecksum.Full), received);
        Assert.False(Frames.TcpV4ChecksumsValid(frame)); // the sender's buffer is not touched
    }

    [Fact]
    public void Tcp_segmentation_delivers_wire_frames()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        var data = new byte[4000];
        Random.Shared.NextBytes(data);

        Assert.True(pair.A.Send(Tcp(data), new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1448)));

        var segments = atB.Received;
        Assert.Equal([1448, 1448, 1104], segments.Select(s => s.Length - 54));
        Assert.All(segments, s => Assert.True(Frames.TcpV4ChecksumsValid(s)));
        Assert.Equal([1000u, 2448u, 3896u], segments.Select(s => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(38))));
        Assert.Equal([Frames.TcpAck, Frames.TcpAck, Frames.TcpAck | Frames.TcpPsh | Frames.TcpFin], segments.Select(s => s[47]));
        Assert.Equal([1, 2, 3], segments.Select(s => (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18))));
        Assert.Equal(data, segments.SelectMany(s => s.Skip(54)).ToArray());
        Assert.Equal(1, pair.A.Counters.FramesSent);
        Assert.Equal(3, pair.B.Counters.FramesReceived);
    }

    [Fact]
    public void Tcp_over_ipv6_is_segmented_too()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation });
        var atB = new FrameRecorder();
        pair.B.Start(atB);
        byte[] source = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        byte[] destination = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        byte[] frame = Frames.TcpV6(MacA, MacB, source, destination, 1, 2, 10, Frames.TcpAck, new byte[2500]);

        Assert.True(pair.A.Send(frame, new FrameOffload(true, 54, 16, GsoType.TcpV6, 74, 1200)));

        Assert.Equal([1200, 1200, 100], atB.Received.Select(s => s.Length - 74));
        Assert.All(atB.Received, s => Assert.True(Frames.TcpV6ChecksumValid(s)));
    }

    [Fact]
    public void A_segmentation_send_no_larger_than_one_segment_arrives_as_one_wire_frame()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation });
        var atB = new FrameRecorder();
        pair.B.Start(atB);

        Assert.True(pair.A.Send(Tcp(new byte[1000]), new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1448)));

        Assert.Equal(Tcp(new byte[1000], Frames.TcpChecksum.Full), Assert.Single(atB.Received));
    }

    [Theory]
    [InlineData(GsoType.TcpV6, 1448)] // the frame is IPv4
    [InlineData(GsoType.Udp, 1448)]   // UFO is not done in software
    [InlineData(GsoType.TcpV4, 0)]    // no segment size
    public void A_frame_that_cannot_be_segmented_is_dropped_and_counted(GsoType type, ushort segmentSize)
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation });
        var atB = new FrameRecorder();
        pair.B.Start(atB);

        Assert.False(pair.A.Send(Tcp(new byte[3000]), new FrameOffload(true, 34, 16, type, 54, segmentSize)));

        Assert.Empty(atB.Received);
        Assert.Equal(1, pair.A.Counters.SendFailures);
    }

    [Fact]
    public void A_checksum_field_outside_the_frame_is_dropped_and_counted()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum });
        var atB = new FrameRecorder();
        pair.B.Start(atB);

        Assert.False(pair.A.Send(Frame(1), new FrameOffload(true, 14, 16, GsoType.None, 0, 0)));

        Assert.Empty(atB.Received);
        Assert.Equal(1, pair.A.Counters.SendFailures);
    }

    [Fact]
    public void A_segment_the_receiving_queue_refuses_fails_the_send()
    {
        using var pair = new PortPair(new PortPairOptions
        {
            CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation,
            Delivery = LoopbackDelivery.Queued,
            QueueCapacity = 2,
        });
        using var release = new ManualResetEventSlim();
        var blocked = new BlockingReceiver(release);
        pair.B.Start(blocked);
        Assert.True(pair.A.Send(Frame(0)));
        Assert.True(blocked.Entered.Wait(Patience)); // the worker holds frame 0; two places are left

        Assert.False(pair.A.Send(Tcp(new byte[3000]), new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1000)));

        Assert.Equal(1, pair.A.Counters.SendFailures);
        release.Set();
    }

    [Fact]
    public void Offloaded_sends_do_not_allocate()
    {
        using var pair = new PortPair(new PortPairOptions { CapabilitiesA = PortCapabilities.Checksum | PortCapabilities.Segmentation });
        pair.B.Start(new BlockingReceiver(null));
        byte[] large = Tcp(new byte[9000]);
        byte[] small = Tcp(new byte[100]);
        var tso = new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1448);
        var checksum = new FrameOffload(true, 34, 16, GsoType.None, 0, 0);

        AssertNoAllocation(() =>
        {
            for (int round = 0; round < 50; round++)
            {
                pair.A.Send(large, tso);
                pair.A.Send(small, checksum);
            }
        });
        Assert.Equal(0, pair.A.Counters.SendFailures);
    }

    [Fact]
    public void Queued_delivery_runs_on_the_receiving_ends_thread_in_order()
    {
        using var pair = new PortPair(new PortPairOptions { Delivery = LoopbackDelivery.Queued });
        var atB = new FrameRecorder();
        pair.A.Start(new FrameRecorder());
        pair.B.Start(atB);

        for (byte i = 0; i < 50; i++) Assert.True(pair.A.Send(Frame(i)));

        Assert.Equal(50, atB.WaitForCount(50, Patience));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (byte)i), atB.Received.Select(f => f[14]));
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, atB.ReceiveThreads);
        Assert.Single(atB.ReceiveThreads.Distinct());
    }

    [Fact]
    public void A_full_queue_drops_and_counts()
    {
        using var pair = new PortPair(new PortPairOptions { Delivery = LoopbackDelivery.Queued, QueueCapacity = 2 });
        using var release = new ManualResetEventSlim();
        var blocked = new BlockingReceiver(release);
        pair.B.Start(blocked);

        Assert.True(pair.A.Send(Frame(0)));
        Assert.True(blocked.Entered.Wait(Patience)); // the worker holds frame 0
        Assert.True(pair.A.Send(Frame(1)));
        Assert.True(pair.A.Send(Frame(2)));
        Assert.False(pair.A.Send(Frame(3)));
        Assert.Equal(1, pair.A.Counters.SendFailures);
        release.Set();
    }

    [Fact]
    public void Disconnect_and_connect_are_link_changes_on_both_ends()
    {
        using var pair = new PortPair();
        var atA = new FrameRecorder();
        var atB = new FrameRecorder();
        pair.A.Start(atA);
        pair.B.Start(atB);

        pair.Disconnect();
        Assert.False(pair.A.LinkUp);
        Assert.False(pair.A.Send(Frame(1)));
        pair.Connect();

        Assert.Equal([false, true], atA.Links);
        Assert.Equal([false, true], atB.Links);
        Assert.True(pair.A.Send(Frame(2)));
        Assert.Equal(2, Assert.Single(atB.Received)[14]);
    }

    [Fact]
    public void Disposing_one_end_is_link_down_for_the_other_and_stops_workers()
    {
        var pair = new PortPair(new PortPairOptions { Delivery = LoopbackDelivery.Queued });
        var atB = new FrameRecorder();
        pair.A.Start(new FrameRecorder());
        pair.B.Start(atB);

        pair.A.Dispose();

        Assert.True(atB.WaitForLink(false, Patience));
        Assert.False(pair.B.LinkUp);
        Assert.False(pair.B.Send(Frame(1)));
        Assert.False(pair.A.IsDelivering);
        pair.Dispose();
        Assert.False(pair.B.IsDelivering);
    }

    [Fact]
    public void A_receiver_that_throws_does_not_reach_the_sender()
    {
        using var pair = new PortPair();
        pair.B.Start(new BlockingReceiver(null, throws: true));

        Assert.True(pair.A.Send(Frame(1)));

        Assert.IsType<InvalidOperationException>(pair.B.LastReceiverFault);
        Assert.Equal(1, pair.B.Counters.ReceiveErrors);
    }

    // One warm-up run, then up to five measured runs, one of which must allocate nothing: the
    // retries absorb the runtime's own one-off allocations (tiered JIT), never a per-frame one.
    private static void AssertNoAllocation(Action body)
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

    private static byte[] Tcp(byte[] payload, Frames.TcpChecksum checksum = Frames.TcpChecksum.PseudoHeaderOnly) =>
        Frames.TcpV4(MacA, MacB, IpA, IpB, 1234, 80, 1000, 1, Frames.TcpAck | Frames.TcpPsh | Frames.TcpFin, payload, checksum);

    private sealed class BlockingReceiver(ManualResetEventSlim? release, bool throws = false) : IPortReceiver
    {
        public ManualResetEventSlim Entered { get; } = new();

        public void Receive(ReadOnlySpan<byte> frame)
        {
            Entered.Set();
            if (throws) throw new InvalidOperationException("receiver bug");
            release?.Wait();
        }

        public void LinkChanged(bool up) { }
    }
}
