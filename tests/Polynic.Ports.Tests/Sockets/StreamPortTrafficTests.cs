using System.Net;
using System.Net.Sockets;
using Polynic.Ports.Sockets;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>StreamPort frames in both directions, against itself and against raw sockets framing as QEMU does.</summary>
public sealed class StreamPortTrafficTests
{
    public static TheoryData<string> Transports => ["tcp4", "tcp6", "unix"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_server_and_a_client_port_exchange_frames_both_ways(string transport)
    {
        using var directory = new TempDirectory();
        EndPoint address = transport switch
        {
            "tcp4" => new IPEndPoint(IPAddress.Loopback, 0),
            "tcp6" => new IPEndPoint(IPAddress.IPv6Loopback, 0),
            _ => new UnixDomainSocketEndPoint(directory.File("stream.sock")),
        };
        var serverFrames = new FrameRecorder();
        var clientFrames = new FrameRecorder();
        using var server = SocketTestKit.StartServer(serverFrames, address);
        using var client = StreamPort.Open(new StreamPortOptions { Address = server.LocalEndPoint! });
        client.Start(clientFrames);

        Assert.True(clientFrames.WaitForLink(true, SocketTestKit.Timeout), "client: no LinkChanged(true)");
        Assert.True(serverFrames.WaitForLink(true, SocketTestKit.Timeout), "server: no LinkChanged(true)");
        Assert.True(server.LinkUp && client.LinkUp);

        int[] toServer = [60, 1514, 9000, 14, 65535];
        for (int i = 0; i < toServer.Length; i++) Assert.True(client.Send(SocketTestKit.Frame(toServer[i], i)));
        int[] toClient = [9000, 60, 1514];
        for (int i = 0; i < toClient.Length; i++) Assert.True(server.Send(SocketTestKit.Frame(toClient[i], 100 + i)));

        Assert.Equal(toServer.Length, serverFrames.WaitForCount(toServer.Length, SocketTestKit.Timeout));
        Assert.Equal(toClient.Length, clientFrames.WaitForCount(toClient.Length, SocketTestKit.Timeout));
        for (int i = 0; i < toServer.Length; i++) Assert.Equal(SocketTestKit.Frame(toServer[i], i), serverFrames.Received[i]);
        for (int i = 0; i < toClient.Length; i++) Assert.Equal(SocketTestKit.Frame(toClient[i], 100 + i), clientFrames.Received[i]);

        Assert.Equal(toServer.Length, client.Counters.FramesSent);
        Assert.Equal(toServer.Sum(), client.Counters.BytesSent);
        Assert.Equal(toServer.Length, server.Counters.FramesReceived);
        Assert.Equal(0, server.Counters.ReceiveErrors + client.Counters.ReceiveErrors);
        Assert.Single(serverFrames.ReceiveThreads.Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, serverFrames.ReceiveThreads[0]);
    }

    [Fact]
    public void A_frame_sent_by_the_port_is_a_big_endian_length_then_the_frame_on_the_wire()
    {
        using var server = SocketTestKit.StartServer(new FrameRecorder());
        using var raw = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        Assert.True(SocketTestKit.WaitUntil(() => server.LinkUp));

        var frame = SocketTestKit.Frame(9000, 7);
        Assert.True(server.Send(frame));
        var bytes = SocketTestKit.ReadExactly(raw, 4 + 9000);
        Assert.Equal([0x00, 0x00, 0x23, 0x28], bytes[..4]); // 9000 = 0x2328, network byte order
        Assert.Equal(frame, bytes[4..]);

        Assert.True(server.Send(SocketTestKit.Frame(60, 8)));
        Assert.Equal(SocketTestKit.Framed(SocketTestKit.Frame(60, 8)), SocketTestKit.ReadExactly(raw, 64));
        raw.Blocking = false;
        Assert.Throws<SocketException>(() => raw.Receive(new byte[1])); // nothing else: no padding, no trailer
    }

    [Fact]
    public void A_client_port_frames_exactly_as_QEMU_does()
    {
        using var listener = SocketTestKit.ListenRaw(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = StreamPort.Open(new StreamPortOptions { Address = listener.LocalEndPoint! });
        client.Start(new FrameRecorder());
        using var raw = SocketTestKit.AcceptRaw(listener);
        Assert.True(SocketTestKit.WaitUntil(() => client.LinkUp));

        var frame = SocketTestKit.Frame(1514, 3);
        Assert.True(client.Send(frame));
        Assert.Equal(SocketTestKit.Framed(frame), SocketTestKit.ReadExactly(raw, 4 + 1514));
    }

    [Fact]
    public void Back_to_back_frames_split_across_reads_arrive_whole_and_in_order()
    {
        var recorder = new FrameRecorder();
        using var server = SocketTestKit.StartServer(recorder);
        using var raw = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        raw.NoDelay = true;

        byte[] stream = [.. SocketTestKit.Framed(SocketTestKit.Frame(60, 1)), .. SocketTestKit.Framed(SocketTestKit.Frame(9000, 2)),
            .. SocketTestKit.Framed(SocketTestKit.Frame(1514, 3)), .. SocketTestKit.Framed(SocketTestKit.Frame(60, 4))];
        // Cuts inside a length prefix, inside a frame, and with a frame's tail and the next prefix in one write.
        int[] cuts = [2, 5, 64 + 3, 64 + 4 + 4000, 64 + 4 + 9000 + 4 + 10, stream.Length];
        int done = 0;
        foreach (int cut in cuts)
        {
            raw.Send(stream.AsSpan(done, cut - done));
            done = cut;
            Thread.Sleep(20); // let the port read each piece on its own
        }

        Assert.Equal(4, recorder.WaitForCount(4, SocketTestKit.Timeout));
        Assert.Equal([1, 2, 3, 4], recorder.Received.Select(SocketTestKit.Sequence));
        Assert.Equal(SocketTestKit.Frame(9000, 2), recorder.Received[1]);
        Assert.Equal(0, server.Counters.ReceiveErrors);
    }

    [Fact]
    public void Runts_are_dropped_and_counted_without_losing_the_connection()
    {
        var recorder = new FrameRecorder();
        using var server = SocketTestKit.StartServer(recorder);
        using var raw = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        raw.Send([0, 0, 0, 0, 0, 0, 0, 2, 0xAA, 0xBB, .. SocketTestKit.Framed(SocketTestKit.Frame(60, 5))]);

        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 5, SocketTestKit.Timeout));
        Assert.Equal(2, server.Counters.ReceiveErrors);
        Assert.True(server.LinkUp);
        Assert.Equal(0, server.StreamCounters.ProtocolErrors);
    }

    [Fact]
    public void A_receiver_that_throws_loses_that_frame_only()
    {
        var recorder = new FrameRecorder();
        var throwing = new ThrowingOnce(recorder);
        using var server = SocketTestKit.StartServer(throwing);
        using var raw = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        raw.Send([.. SocketTestKit.Framed(SocketTestKit.Frame(60, 1)), .. SocketTestKit.Framed(SocketTestKit.Frame(60, 2))]);

        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 2, SocketTestKit.Timeout));
        Assert.Equal(1, server.Counters.ReceiveErrors);
        Assert.True(server.LinkUp);
    }

    [Fact]
    public void Sends_without_a_peer_offloads_runts_and_oversized_frames_are_refused_and_counted()
    {
        using var server = SocketTestKit.StartServer(new FrameRecorder());
        Assert.False(server.LinkUp);
        Assert.False(server.Send(SocketTestKit.Frame(60, 0)));

        using var raw = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        Assert.True(SocketTestKit.WaitUntil(() => server.LinkUp));
        Assert.False(server.Send(new byte[13]));
        Assert.False(server.Send(SocketTestKit.Frame(QemuStreamFraming.MaxFrameLength + 1, 0)));
        Assert.False(server.Send(SocketTestKit.Frame(60, 0), new Polynic.Core.Nic.FrameOffload(true, 34, 16, default, 0, 0)));
        Assert.Equal(Polynic.Core.Nic.PortCapabilities.None, server.Capabilities);
        Assert.Equal(4, server.Counters.SendFailures);

        Assert.True(server.Send(SocketTestKit.Frame(QemuStreamFraming.MaxFrameLength, 1)));
        Assert.Equal(QemuStreamFraming.MaxFrameLength, SocketTestKit.ReadFramed(raw).Length);
    }

    private sealed class ThrowingOnce(FrameRecorder inner) : Polynic.Core.Nic.IPortReceiver
    {
        private bool _thrown;

        public void Receive(ReadOnlySpan<byte> frame)
        {
            if (!_thrown)
            {
                _thrown = true;
                throw new InvalidOperationException("a NIC bug");
            }
            inner.Receive(frame);
        }

        public void LinkChanged(bool up) => inner.LinkChanged(up);
    }
}
