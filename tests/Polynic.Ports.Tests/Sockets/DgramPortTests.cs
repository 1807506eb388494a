using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Polynic.Ports.Sockets;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>DgramPort: one frame per datagram over UDP (loopback) and UNIX datagram sockets.</summary>
public sealed class DgramPortTests
{
    public static TheoryData<string> Transports => ["udp4", "udp6", "unix"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void Two_ports_exchange_frames_both_ways(string transport)
    {
        using var directory = new TempDirectory();
        var (a, b) = Addresses(transport, directory);
        var aFrames = new FrameRecorder();
        var bFrames = new FrameRecorder();
        using var portA = DgramPort.Open(new DgramPortOptions { Local = a, Remote = b });
        using var portB = DgramPort.Open(new DgramPortOptions { Local = b, Remote = a });
        Assert.True(portA.LinkUp && portB.LinkUp); // up once bound, no peer needed
        portA.Start(aFrames);
        portB.Start(bFrames);

        int[] lengths = [60, 1514, 9000];
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.True(portA.Send(SocketTestKit.Frame(lengths[i], i)));
            Assert.True(portB.Send(SocketTestKit.Frame(lengths[i], 10 + i)));
        }
        Assert.Equal(3, bFrames.WaitForCount(3, SocketTestKit.Timeout));
        Assert.Equal(3, aFrames.WaitForCount(3, SocketTestKit.Timeout));
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(SocketTestKit.Frame(lengths[i], i), bFrames.Received[i]);
            Assert.Equal(SocketTestKit.Frame(lengths[i], 10 + i), aFrames.Received[i]);
        }
        Assert.Equal(3, portA.Counters.FramesSent);
        Assert.Equal(3, portB.Counters.FramesReceived);
        Assert.Empty(aFrames.Links);
    }

    [Fact]
    public void Each_frame_is_exactly_one_datagram_with_nothing_added()
    {
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        raw.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        raw.ReceiveTimeout = (int)SocketTestKit.Timeout.TotalMilliseconds;
        var recorder = new FrameRecorder();
        using var port = DgramPort.Open(new DgramPortOptions { Local = new IPEndPoint(IPAddress.Loopback, 0), Remote = raw.LocalEndPoint! });
        port.Start(recorder);

        var frame = SocketTestKit.Frame(1514, 1);
        Assert.True(port.Send(frame));
        var buffer = new byte[70000];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int length = raw.ReceiveFrom(buffer, ref from);
        Assert.Equal(frame, buffer[..length]);
        Assert.Equal(port.LocalEndPoint, from);

        // Any sender is heard (QEMU does not filter on the remote address either); runts are counted.
        raw.SendTo(SocketTestKit.Frame(60, 2), port.LocalEndPoint!);
        raw.SendTo(new byte[10], port.LocalEndPoint!);
        raw.SendTo(SocketTestKit.Frame(60, 3), port.LocalEndPoint!);
        Assert.Equal(2, recorder.WaitForCount(2, SocketTestKit.Timeout));
        Assert.Equal([2, 3], recorder.Received.Select(SocketTestKit.Sequence));
        Assert.Equal(1, port.Counters.ReceiveErrors);
    }

    [Fact]
    public void Datagrams_over_the_limit_are_dropped_and_counted()
    {
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        raw.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var recorder = new FrameRecorder();
        using var port = DgramPort.Open(new DgramPortOptions { Local = new IPEndPoint(IPAddress.Loopback, 0), Remote = raw.LocalEndPoint!, MaxFrameLength = 1518 });
        port.Start(recorder);

        raw.SendTo(SocketTestKit.Frame(1519, 1), port.LocalEndPoint!);
        raw.SendTo(SocketTestKit.Frame(1518, 2), port.LocalEndPoint!);
        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 2, SocketTestKit.Timeout));
        Assert.Single(recorder.Received);
        Assert.Equal(1, port.Counters.ReceiveErrors);
        Assert.False(port.Send(SocketTestKit.Frame(1519, 3)));
        Assert.Equal(1, port.Counters.SendFailures);
    }

    [Fact]
    public void Sending_to_an_absent_unix_peer_fails_and_counts_but_keeps_the_link()
    {
        using var directory = new TempDirectory();
        using var port = DgramPort.Open(new DgramPortOptions
        {
            Local = new UnixDomainSocketEndPoint(directory.File("a.sock")),
            Remote = new UnixDomainSocketEndPoint(directory.File("nobody.sock")),
        });
        port.Start(new FrameRecorder());
        Assert.False(port.Send(SocketTestKit.Frame(60, 0)));
        Assert.Equal(1, port.Counters.SendFailures);
        Assert.True(port.LinkUp);
    }

    [Fact]
    public void Dispose_stops_the_thread_promptly_closes_the_socket_and_removes_the_unix_path()
    {
        using var directory = new TempDirectory();
        string path = directory.File("a.sock");
        var port = DgramPort.Open(new DgramPortOptions
        {
            Local = new UnixDomainSocketEndPoint(path),
            Remote = new UnixDomainSocketEndPoint(directory.File("b.sock")),
        });
        var recorder = new FrameRecorder();
        port.Start(recorder);
        Assert.True(port.IsReceiving);
        Assert.True(File.Exists(path) || Polynic.Ports.Sockets.SocketCalls.IsSocketFile(path));

        var clock = Stopwatch.StartNew();
        port.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {clock.Elapsed}"); // liveness: a thread that ignored Dispose would never end
        Assert.False(port.IsReceiving);
        Assert.False(port.LinkUp);
        Assert.False(SocketCalls.IsSocketFile(path));
        Assert.False(port.Send(SocketTestKit.Frame(60, 0)));
        Assert.Empty(recorder.Links);
        port.Dispose();
    }

    [Fact]
    public void Inconsistent_options_are_refused_with_the_reason()
    {
        var v4 = new IPEndPoint(IPAddress.Loopback, 5000);
        Assert.Contains("requires local", Assert.Throws<ArgumentException>(() => DgramPort.Open(new DgramPortOptions { Remote = v4 })).Message);
        Assert.Throws<ArgumentException>(() => DgramPort.Open(new DgramPortOptions { Local = new IPEndPoint(IPAddress.IPv6Loopback, 0), Remote = v4 }));
        Assert.Throws<ArgumentException>(() => DgramPort.Open(new DgramPortOptions { Local = new UnixDomainSocketEndPoint("/tmp/x"), Remote = v4 }));
        Assert.Throws<ArgumentException>(() => DgramPort.Open(new DgramPortOptions { Local = v4, Remote = v4, MulticastTimeToLive = 1 }));
        var group = new IPEndPoint(IPAddress.Parse("230.0.0.1"), 1234);
        Assert.True(new DgramPortOptions { Remote = group }.IsMulticast);
        Assert.False(new DgramPortOptions { Remote = v4 }.IsMulticast);
        Assert.Throws<ArgumentException>(() => DgramPort.Open(new DgramPortOptions { Remote = new IPEndPoint(IPAddress.Parse("230.0.0.1"), 0) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => DgramPort.Open(new DgramPortOptions { Remote = group, MulticastTimeToLive = 256 }));

        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var error = Assert.Throws<PortOpenException>(() =>
            DgramPort.Open(new DgramPortOptions { Local = taken.LocalEndPoint, Remote = v4 }));
        Assert.Contains("cannot bind", error.Message);
    }

    private static (EndPoint A, EndPoint B) Addresses(string transport, TempDirectory directory) => transport switch
    {
        "udp4" => (new IPEndPoint(IPAddress.Loopback, SocketTestKit.FreeUdpPort()), new IPEndPoint(IPAddress.Loopback, SocketTestKit.FreeUdpPort())),
        "udp6" => (new IPEndPoint(IPAddress.IPv6Loopback, SocketTestKit.FreeUdpPort(IPAddress.IPv6Loopback)),
            new IPEndPoint(IPAddress.IPv6Loopback, SocketTestKit.FreeUdpPort(IPAddress.IPv6Loopback))),
        _ => (new UnixDomainSocketEndPoint(directory.File("a.sock")), new UnixDomainSocketEndPoint(directory.File("b.sock"))),
    };
}
