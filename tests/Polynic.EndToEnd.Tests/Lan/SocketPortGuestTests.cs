using System.Net.Sockets;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Management.Configuration;
using Polynic.Ports.Sockets;
using Polynic.Rig.Guests;

namespace Polynic.EndToEnd.Tests.Lan;

/// <summary>
/// A guest with a Polynic e1000 on a <c>stream</c> or <c>dgram</c> port and a guest with QEMU's
/// own built-in e1000 on the matching QEMU socket netdev: the two guests are each other's only
/// peer, over loopback. Ping, then a 16 MiB file over HTTP with equal sha256 at both ends.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class SocketPortGuestTests(RigFixture rig)
{
    private const string PolynicAddress = "10.82.0.1", QemuAddress = "10.82.0.2";
    private const string QemuMac = "52:54:00:82:00:02";

    [Fact]
    public async Task Polynic_stream_server_and_qemu_stream_client_guests_ping_and_copy_a_file()
    {
        int tcp = LanRig.FreeLoopbackPort(SocketType.Stream);
        await using var lan = await StartAsync(new StreamPortConfiguration(Server: true, $"127.0.0.1:{tcp}"),
            $"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={tcp}");
        var (polynic, qemu) = (lan.Guests[0], lan.Guests[1]);

        await PingAsync(polynic);
        // The QEMU e1000 guest serves, the Polynic guest fetches.
        var sent = await ServeRandomFileAsync(qemu);
        var received = await FetchAsync(polynic, QemuAddress);
        Assert.Equal(sent, received);

        var port = LanRig.Find<StreamPort>(lan.Host.Functions[0].Port);
        Assert.Equal(1, port.StreamCounters.Connections);
        Assert.Equal(0, port.StreamCounters.ProtocolErrors);
        AssertNicClean(lan);
    }

    [Fact]
    public async Task Polynic_dgram_port_and_qemu_dgram_netdev_guests_ping_and_copy_a_file()
    {
        int ours = LanRig.FreeLoopbackPort(SocketType.Dgram), qemus = LanRig.FreeLoopbackPort(SocketType.Dgram);
        await using var lan = await StartAsync(new DgramPortConfiguration($"127.0.0.1:{ours}", $"127.0.0.1:{qemus}"),
            $"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={qemus},remote.type=inet,remote.host=127.0.0.1,remote.port={ours}");
        var (polynic, qemu) = (lan.Guests[0], lan.Guests[1]);

        await PingAsync(polynic);
        // This time the Polynic guest serves and the QEMU e1000 guest fetches.
        var sent = await ServeRandomFileAsync(polynic);
        var received = await FetchAsync(qemu, PolynicAddress);
        Assert.Equal(sent, received);
        AssertNicClean(lan);
    }

    /// <summary>The server with one Polynic e1000 on <paramref name="port"/>, its guest, and a guest with QEMU's e1000 on <paramref name="netdev"/>; both configured.</summary>
    private async Task<LanRig> StartAsync(PortConfiguration port, string netdev)
    {
        var lan = await LanRig.StartAsync(rig.Rig,
            work => new PolynicConfiguration("lan-socket", null, [],
                [LanRig.E1000("poly", work, "52:54:00:82:00:01", port)]),
            host =>
            [
                LanRig.PolynicGuest(host.Functions[0]),
                new GuestOptions
                {
                    Name = "qemu-e1000",
                    Cpus = 1,
                    MemoryMiB = 320,
                    ExtraQemuArguments = ["-netdev", netdev, "-device", $"e1000,netdev=n0,mac={QemuMac}"],
                },
            ]);
        try
        {
            await Task.WhenAll(LanRig.ConfigureAsync(lan.Guests[0], PolynicAddress), LanRig.ConfigureAsync(lan.Guests[1], QemuAddress));
            return lan;
        }
        catch
        {
            await lan.DisposeAsync();
            throw;
        }
    }

    private static async Task PingAsync(Guest polynic)
    {
        var ping = await polynic.RunCheckedAsync($"ping -c 10 -i 0.2 -W 2 {QemuAddress}", TimeSpan.FromMinutes(1));
        PingOutput.AssertAllAnswered(ping, 10);
    }

    /// <summary>Writes 16 MiB of random bytes to /tmp/www/blob, serves /tmp/www with busybox httpd on port 8080, returns the hash.</summary>
    private static async Task<string> ServeRandomFileAsync(Guest guest) =>
        LanRig.Sha(await guest.RunCheckedAsync(
            "mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/blob bs=1M count=16 2>/dev/null && httpd -p 8080 -h /tmp/www && sha256sum /tmp/www/blob",
            TimeSpan.FromMinutes(1)));

    private static async Task<string> FetchAsync(Guest guest, string server) =>
        LanRig.Sha(await guest.RunCheckedAsync(
            $"wget -q -O /tmp/fetched http://{server}:8080/blob && sha256sum /tmp/fetched", TimeSpan.FromMinutes(3)));

    private static void AssertNicClean(LanRig lan)
    {
        var f = lan.Host.Functions[0];
        Assert.Equal(0, f.Nic!.Counters.DmaFaults + f.Nic.Counters.DescriptorFaults);
        Assert.Null(f.Function.FailureReason);
        Assert.True(f.Nic.Counters.RxBytes > 16 << 20 || f.Nic.Counters.TxBytes > 16 << 20, string.Join(", ", f.Nic.Counters.Snapshot()));
    }
}
