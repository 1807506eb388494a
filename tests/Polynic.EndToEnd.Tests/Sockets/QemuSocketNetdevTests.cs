using Polynic.EndToEnd.Tests.Network;
using System.Net;
using System.Net.Sockets;
using Polynic.Core.Nic;
using Polynic.Ports.Sockets;
using Polynic.Rig;
using Polynic.Rig.Guests;

namespace Polynic.EndToEnd.Tests.Sockets;

/// <summary>
/// Interop with QEMU's own socket netdevs: a guest whose NIC is QEMU's built-in e1000 on
/// <c>-netdev stream</c> or <c>-netdev dgram</c>, and on the other end a Polynic port with a
/// made-up host behind it. The guest pings that host: its ARP request and echo requests must
/// reach the port (QEMU's framing parsed by us), and our ARP and echo replies must reach the
/// guest (our framing accepted by QEMU) for ping to succeed.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class QemuSocketNetdevTests(RigFixture rig)
{
    private static readonly byte[] GuestMac = [0x52, 0x54, 0x00, 0x5C, 0x00, 0x02];
    private static readonly byte[] GuestIp = [10, 98, 0, 2];
    private static readonly byte[] StationMac = [0x02, 0x50, 0x4E, 0x00, 0x00, 0x01];
    private static readonly byte[] StationIp = [10, 98, 0, 1];

    [Fact]
    public async Task Qemu_stream_client_over_tcp_talks_to_a_StreamPort_server()
    {
        var station = new EchoStation(StationMac, StationIp);
        using var port = StreamPort.Open(new StreamPortOptions { Address = new IPEndPoint(IPAddress.Loopback, 0), Server = true });
        int tcpPort = ((IPEndPoint)port.LocalEndPoint!).Port;
        await PingThroughAsync(port, station, "stream-tcp",
            $"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={tcpPort}");
        Assert.Equal(1, port.StreamCounters.Connections);
        Assert.Equal(0, port.StreamCounters.ProtocolErrors);
    }

    [Fact]
    public async Task Qemu_stream_server_on_a_unix_socket_talks_to_a_reconnecting_StreamPort_client()
    {
        string path = $"/tmp/polynic-qemu-stream-{Environment.ProcessId}-{Random.Shared.Next():x}.sock";
        var station = new EchoStation(StationMac, StationIp);
        // QEMU creates the socket while it starts; the client keeps trying until it is there.
        using var port = StreamPort.Open(new StreamPortOptions
        {
            Address = new UnixDomainSocketEndPoint(path),
            Reconnect = TimeSpan.FromMilliseconds(200),
        });
        try
        {
            await PingThroughAsync(port, station, "stream-unix",
                $"stream,id=n0,server=on,addr.type=unix,addr.path={path}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Qemu_dgram_over_udp_talks_to_a_DgramPort()
    {
        int ours = FreeUdpPort(), qemus = FreeUdpPort();
        var station = new EchoStation(StationMac, StationIp);
        using var port = DgramPort.Open(new DgramPortOptions
        {
            Local = new IPEndPoint(IPAddress.Loopback, ours),
            Remote = new IPEndPoint(IPAddress.Loopback, qemus),
        });
        await PingThroughAsync(port, station, "dgram-udp",
            $"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={qemus},remote.type=inet,remote.host=127.0.0.1,remote.port={ours}");
    }

    private async Task PingThroughAsync(IPort port, EchoStation station, string name, string netdev)
    {
        station.Port = port;
        port.Start(station);
        await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions
        {
            Name = name,
            ExtraQemuArguments = ["-netdev", netdev, "-device", $"e1000,netdev=n0,mac={string.Join(':', GuestMac.Select(b => b.ToString("x2")))}"],
        });
        Assert.True(await WaitAsync(() => port.LinkUp), $"{port.Name}: no peer connected");

        string guestIp = string.Join('.', GuestIp), stationIp = string.Join('.', StationIp);
        var ping = await guest.RunAsync(
            $"ip link set eth0 up && ip addr add {guestIp}/24 dev eth0 && ping -c 3 -W 5 {stationIp}",
            TimeSpan.FromSeconds(60));

        Assert.True(station.SawArpRequestFrom(GuestMac), $"no ARP request from the guest reached {port.Name}; ping said:\n{ping.Output}");
        Assert.True(station.SawEchoRequestFrom(GuestIp), $"no echo request reached {port.Name}; ping said:\n{ping.Output}");
        Assert.True(ping.ExitCode == 0, $"the guest got no echo reply through QEMU's {name} netdev:\n{ping.Output}");
        PingOutput.AssertAllAnswered(ping.Output, 3);
        Assert.True(station.EchoRepliesSent >= 3);
    }

    private static async Task<bool> WaitAsync(Func<bool> condition)
    {
        for (int i = 0; i < 200; i++)
        {
            if (condition()) return true;
            await Task.Delay(50);
        }
        return condition();
    }

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
