using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polynic.Ports.Sockets;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>Peers coming and going, reconnecting clients, hostile peers, and disposal.</summary>
public sealed class StreamPortLinkTests
{
    [Fact]
    public void A_peer_leaving_takes_the_link_down_once_and_the_next_peer_brings_it_up()
    {
        var recorder = new FrameRecorder();
        var logger = new ListLogger();
        using var server = SocketTestKit.StartServer(recorder, logger: logger);
        using (var first = SocketTestKit.ConnectRaw(server.LocalEndPoint!))
        {
            Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));
            Assert.True(server.LinkUp);
            Assert.NotNull(server.PeerEndPoint);
        }
        Assert.True(SocketTestKit.WaitUntil(() => recorder.Links.Length == 2));
        Assert.Equal([true, false], recorder.Links);
        Assert.False(server.LinkUp);
        Assert.Null(server.PeerEndPoint);
        Assert.False(server.Send(SocketTestKit.Frame(60, 0)));

        var linkDown = logger.Entries.Where(e => e.Message.Contains("link down")).ToArray();
        Assert.Single(linkDown);
        Assert.Equal(LogLevel.Warning, linkDown[0].Level);
        Assert.Contains("closed the connection", linkDown[0].Message);

        using var second = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        Assert.True(SocketTestKit.WaitUntil(() => recorder.Links.Length == 3));
        Assert.Equal([true, false, true], recorder.Links);
        Assert.True(server.Send(SocketTestKit.Frame(60, 1)));
        Assert.Equal(SocketTestKit.Frame(60, 1), SocketTestKit.ReadFramed(second));
        second.Send(SocketTestKit.Framed(SocketTestKit.Frame(60, 2)));
        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 2, SocketTestKit.Timeout));
        Assert.Equal(2, server.StreamCounters.Connections);
    }

    [Fact]
    public void A_second_peer_waits_until_the_first_leaves()
    {
        var recorder = new FrameRecorder();
        using var server = SocketTestKit.StartServer(recorder);
        var first = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));
        using var second = SocketTestKit.ConnectRaw(server.LocalEndPoint!); // queued in the backlog, as with QEMU
        second.Send(SocketTestKit.Framed(SocketTestKit.Frame(60, 2)));
        Thread.Sleep(100);
        Assert.Empty(recorder.Received);

        first.Dispose();
        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 2, SocketTestKit.Timeout));
        Assert.Equal([true, false, true], recorder.Links);
    }

    [Fact]
    public void A_hostile_length_drops_the_peer_counts_it_and_the_next_peer_is_served()
    {
        var recorder = new FrameRecorder();
        var logger = new ListLogger();
        using var server = SocketTestKit.StartServer(recorder, logger: logger);
        using (var hostile = SocketTestKit.ConnectRaw(server.LocalEndPoint!))
        {
            Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));
            hostile.Send([0x80, 0x00, 0x00, 0x00, 0xDE, 0xAD]); // 2^31 bytes announced
            Assert.True(SocketTestKit.SeesClosed(hostile), "the port kept a peer that announced 2 GiB");
        }
        Assert.True(SocketTestKit.WaitUntil(() => recorder.Links.Length == 2));
        Assert.Equal(1, server.StreamCounters.ProtocolErrors);
        Assert.Empty(recorder.Received);
        var linkDown = Assert.Single(logger.Entries, e => e.Message.Contains("link down"));
        Assert.Contains("protocol error", linkDown.Message);
        Assert.Contains("2147483648", linkDown.Message);

        using var next = SocketTestKit.ConnectRaw(server.LocalEndPoint!);
        next.Send(SocketTestKit.Framed(SocketTestKit.Frame(60, 9)));
        Assert.NotNull(recorder.WaitFor(f => SocketTestKit.Sequence(f) == 9, SocketTestKit.Timeout));
        Assert.Equal([true, false, true], recorder.Links);
    }

    [Fact]
    public void A_client_reconnects_after_the_server_drops_it()
    {
        var recorder = new FrameRecorder();
        using var listener = SocketTestKit.ListenRaw(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = StreamPort.Open(new StreamPortOptions { Address = listener.LocalEndPoint!, Reconnect = TimeSpan.FromMilliseconds(100) });
        client.Start(recorder);

        using (SocketTestKit.AcceptRaw(listener))
            Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));
        Assert.True(SocketTestKit.WaitUntil(() => recorder.Links.Length == 2));
        Assert.False(client.LinkUp);

        using var again = SocketTestKit.AcceptRaw(listener);
        Assert.True(SocketTestKit.WaitUntil(() => recorder.Links.Length == 3));
        Assert.Equal([true, false, true], recorder.Links);
        Assert.True(client.Send(SocketTestKit.Frame(60, 4)));
        Assert.Equal(SocketTestKit.Frame(60, 4), SocketTestKit.ReadFramed(again));
        Assert.Equal(2, client.StreamCounters.Connections);
    }

    [Fact]
    public void A_client_keeps_trying_until_the_server_appears_and_logs_the_outage_once()
    {
        var recorder = new FrameRecorder();
        var logger = new ListLogger();
        var address = FreeTcpEndPoint();
        using var client = StreamPort.Open(new StreamPortOptions { Address = address, Reconnect = TimeSpan.FromMilliseconds(50) }, logger);
        client.Start(recorder);
        Thread.Sleep(400); // several refused attempts

        using var listener = SocketTestKit.ListenRaw(address);
        using var peer = SocketTestKit.AcceptRaw(listener);
        Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));
        Assert.Equal([true], recorder.Links);
        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).ToArray();
        Assert.Single(warnings);
        Assert.Contains("cannot connect", warnings[0].Message);
        Assert.Contains("retrying every 50 ms", warnings[0].Message);
    }

    [Fact]
    public void A_client_without_reconnect_gives_up_after_one_failed_attempt()
    {
        var logger = new ListLogger();
        using var client = StreamPort.Open(new StreamPortOptions { Address = FreeTcpEndPoint() }, logger);
        client.Start(new FrameRecorder());
        Assert.True(SocketTestKit.WaitUntil(() => !client.IsRunning));
        Assert.False(client.LinkUp);
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("no reconnect configured", warning.Message);
    }

    [Fact]
    public void Dispose_closes_the_connection_and_the_listener_and_stops_the_thread_promptly()
    {
        var recorder = new FrameRecorder();
        var server = SocketTestKit.StartServer(recorder);
        var address = server.LocalEndPoint!;
        using var raw = SocketTestKit.ConnectRaw(address);
        Assert.True(recorder.WaitForLink(true, SocketTestKit.Timeout));

        var clock = Stopwatch.StartNew();
        server.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {clock.Elapsed}"); // liveness: a thread that ignored Dispose would never end
        Assert.False(server.IsRunning);
        Assert.False(server.LinkUp);
        Assert.Equal([true], recorder.Links); // no link event for the port's own disposal
        Assert.True(SocketTestKit.SeesClosed(raw));
        var refused = Assert.Throws<SocketException>(() => SocketTestKit.ConnectRaw(address).Dispose());
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.False(server.Send(SocketTestKit.Frame(60, 0)));
        Assert.Throws<ObjectDisposedException>(() => server.Start(recorder));
        server.Dispose();
    }

    [Fact]
    public void Dispose_removes_the_unix_socket_file_and_replaces_a_stale_one_on_open()
    {
        using var directory = new TempDirectory();
        string path = directory.File("stale.sock");
        SocketTestKit.LeaveStaleUnixSocket(path); // as a crashed process would
        Assert.True(File.Exists(path));

        var server = SocketTestKit.StartServer(new FrameRecorder(), new UnixDomainSocketEndPoint(path));
        Assert.Equal($"stream-server:unix:{path}", server.Name);
        using (var raw = SocketTestKit.ConnectRaw(new UnixDomainSocketEndPoint(path)))
            Assert.True(SocketTestKit.WaitUntil(() => server.LinkUp));
        server.Dispose();
        Assert.False(File.Exists(path));

        File.WriteAllText(path, "not a socket");
        var error = Assert.Throws<PortOpenException>(() => StreamPort.Open(new StreamPortOptions { Address = new UnixDomainSocketEndPoint(path), Server = true }));
        Assert.Contains(path, error.Message);
        Assert.Equal("not a socket", File.ReadAllText(path));
    }

    [Fact]
    public void Dispose_interrupts_a_reconnecting_client_promptly()
    {
        var client = StreamPort.Open(new StreamPortOptions { Address = FreeTcpEndPoint(), Reconnect = TimeSpan.FromSeconds(30) });
        client.Start(new FrameRecorder());
        Thread.Sleep(100);
        Assert.True(client.IsRunning);
        var clock = Stopwatch.StartNew();
        client.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {clock.Elapsed}"); // far below the 30 s a wait that ignored Dispose would take
        Assert.False(client.IsRunning);
    }

    [Fact]
    public void Inconsistent_options_are_refused_with_the_reason()
    {
        var any = new IPEndPoint(IPAddress.Loopback, 1);
        Assert.Throws<ArgumentException>(() => StreamPort.Open(new StreamPortOptions { Address = any, Server = true, Reconnect = TimeSpan.FromSeconds(1) }));
        Assert.Throws<ArgumentException>(() => StreamPort.Open(new StreamPortOptions { Address = new IPEndPoint(IPAddress.Loopback, 0) }));
        Assert.Throws<ArgumentException>(() => StreamPort.Open(new StreamPortOptions { Address = new DnsEndPoint("localhost", 1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => StreamPort.Open(new StreamPortOptions { Address = any, SendBacklogBytes = 1000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => StreamPort.Open(new StreamPortOptions { Address = any, MaxFrameLength = 1 << 20 }));

        using var taken = SocketTestKit.ListenRaw(new IPEndPoint(IPAddress.Loopback, 0));
        var error = Assert.Throws<PortOpenException>(() => StreamPort.Open(new StreamPortOptions { Address = taken.LocalEndPoint!, Server = true }));
        Assert.Contains("cannot listen on 127.0.0.1", error.Message);
    }

    private static IPEndPoint FreeTcpEndPoint()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }
}
