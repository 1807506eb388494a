using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.E1000;
using Polynic.Ports.Switching;
using Polynic.Rig;
using Polynic.Rig.Guests;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.GuestBenchmarks;

/// <summary>
/// Two guests talking to each other: through Polynic's L2 switch (two Polynic e1000 NICs in
/// this process), or with QEMU's built-in e1000 in each guest joined by QEMU's own
/// <c>-netdev stream</c> socket. iperf3 and ping run between the guests.
/// </summary>
internal static class GuestToGuestBenchmark
{
    public static async Task<Measurement> PolynicSwitchAsync(GuestRig rig, int seconds)
    {
        using var lan = new L2Switch("bench");
        var directory = Directory.CreateTempSubdirectory("polynic-g2g-");
        var servers = new List<VfioUserServer>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var nic = new E1000Device(new NicSettings(MacAddress.FromUInt64(0x52_54_00_bb_00_01UL + (ulong)i)));
                nic.AttachPort(lan.CreatePort($"vm{i}"));
                var server = new VfioUserServer(new PciFunction(nic, $"vm{i}"), Path.Combine(directory.FullName, $"vm{i}.sock"));
                await server.StartAsync();
                servers.Add(server);
            }
            return await MeasureAsync(rig, seconds,
                new GuestOptions { Name = "g2g-a", Cpus = 1, MemoryMiB = 512, VfioUserSockets = [servers[0].SocketPath] },
                new GuestOptions { Name = "g2g-b", Cpus = 1, MemoryMiB = 512, VfioUserSockets = [servers[1].SocketPath] });
        }
        finally
        {
            foreach (var s in servers) await s.DisposeAsync();
            directory.Delete(recursive: true);
        }
    }

    public static Task<Measurement> QemuStreamAsync(GuestRig rig, int seconds)
    {
        int port = 20000 + Random.Shared.Next(20000);
        return MeasureAsync(rig, seconds,
            new GuestOptions
            {
                Name = "g2g-qa", Cpus = 1, MemoryMiB = 512,
                ExtraQemuArguments = ["-netdev", $"stream,id=n0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port={port}", "-device", "e1000,netdev=n0,mac=52:54:00:bb:01:01"],
            },
            new GuestOptions
            {
                Name = "g2g-qb", Cpus = 1, MemoryMiB = 512,
                ExtraQemuArguments = ["-netdev", $"stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port},reconnect-ms=200", "-device", "e1000,netdev=n0,mac=52:54:00:bb:01:02"],
            });
    }

    private static async Task<Measurement> MeasureAsync(GuestRig rig, int seconds, GuestOptions a, GuestOptions b)
    {
        await using var ga = await rig.StartGuestAsync(a);
        await using var gb = await rig.StartGuestAsync(b);
        await Configure(ga, "10.81.0.1");
        await Configure(gb, "10.81.0.2");
        await gb.RunCheckedAsync("iperf3 -s -D -B 10.81.0.2", TimeSpan.FromSeconds(20));
        await ga.RunCheckedAsync("ping -c 3 -W 2 10.81.0.2", TimeSpan.FromSeconds(30));
        var timeout = TimeSpan.FromSeconds(seconds * 3 + 60);
        var there = await ga.RunCheckedAsync($"iperf3 -c 10.81.0.2 -t {seconds}", timeout);
        await Task.Delay(TimeSpan.FromSeconds(2)); // iperf3 -s takes a moment to accept the next test
        var back = await ga.RunCheckedAsync($"iperf3 -c 10.81.0.2 -t {seconds} -R", timeout);
        var ping = await ga.RunCheckedAsync("ping -c 50 -i 0.05 10.81.0.2", TimeSpan.FromSeconds(60));
        return GuestNetworkBenchmark.Parse(there, back, ping);
    }

    private static Task Configure(Guest guest, string address) => guest.RunCheckedAsync(
        $"ip link set eth0 up && ip addr add {address}/24 dev eth0 && " +
        "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier)\" = 1 ] && exit 0; sleep 0.1; done; exit 1",
        TimeSpan.FromSeconds(30));
}
