using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Ports;
using Polynic.Rig;
using Polynic.Rig.Guests;

namespace Polynic.EndToEnd.Tests.Lan;

/// <summary>
/// One in-process Polynic server (<see cref="ServerHost"/>, built from a configuration as
/// <c>polynic serve --config</c> builds it) and the real guests booted against it. Disposing
/// stops the guests first, then the server (sockets, ports, switches, capture), then deletes
/// the work directory that held the sockets and the capture.
/// </summary>
internal sealed partial class LanRig : IAsyncDisposable
{
    private LanRig(DirectoryInfo work, ServerHost host, Guest[] guests)
    {
        Work = work;
        Host = host;
        Guests = guests;
    }

    /// <summary>Holds the vfio-user sockets and the capture; under /tmp so QEMU's root sees it.</summary>
    public DirectoryInfo Work { get; }

    public ServerHost Host { get; }

    public IReadOnlyList<Guest> Guests { get; }

    /// <summary>
    /// Starts the server of <paramref name="configure"/> (given the work directory) and boots one
    /// guest per entry of <paramref name="guests"/> (given the running server), all at once.
    /// </summary>
    public static async Task<LanRig> StartAsync(GuestRig rig, Func<string, PolynicConfiguration> configure,
        Func<ServerHost, IEnumerable<GuestOptions>> guests)
    {
        await rig.EnsurePreparedAsync();
        var work = Directory.CreateTempSubdirectory("polynic-lan-");
        ServerHost? host = null;
        try
        {
            host = await ServerHost.StartAsync(configure(work.FullName), PersonalityModules.Catalog(), NullLoggerFactory.Instance);
            Assert.Empty(host.FailedNics);
            var starting = guests(host).Select(o => rig.StartGuestAsync(o with
            {
                BootTimeout = TimeSpan.FromMinutes(3),
            })).ToList();
            try
            {
                return new LanRig(work, host, await Task.WhenAll(starting));
            }
            catch
            {
                foreach (var t in starting)
                {
                    try { await (await t).DisposeAsync(); } catch { /* that boot is the failure being reported */ }
                }
                throw;
            }
        }
        catch
        {
            if (host is not null) await host.DisposeAsync();
            work.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>Guest options for one Polynic NIC of the server: one vCPU, little RAM (TCG on a small machine).</summary>
    public static GuestOptions PolynicGuest(ServedFunction function, int memoryMiB = 320) => new()
    {
        Name = function.Name,
        VfioUserSockets = [function.Server.SocketPath],
        Cpus = 1,
        MemoryMiB = memoryMiB,
    };

    /// <summary>An e1000 NIC named <paramref name="name"/> with its socket in <paramref name="work"/>.</summary>
    public static NicConfiguration E1000(string name, string work, string mac, PortConfiguration port, FaultConfiguration? faults = null) =>
        new(name, "e1000", Path.Combine(work, name + ".sock"), MacAddress.Parse(mac), [], port, faults, 0);

    /// <summary>Brings eth0 up with <paramref name="address"/>/24 and waits for carrier.</summary>
    public static Task ConfigureAsync(Guest guest, string address) =>
        guest.RunCheckedAsync(
            $"ip link set eth0 up && ip addr add {address}/24 dev eth0 && " + WaitForCarrier(1),
            TimeSpan.FromSeconds(60));

    /// <summary>A shell fragment that waits up to 10 s for eth0's carrier to read <paramref name="value"/>.</summary>
    public static string WaitForCarrier(int value) =>
        $"for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = {value} ] && exit 0; sleep 0.1; done; echo carrier never {value}; exit 1";

    /// <summary>The innermost port of a decorator stack (capture, faults) and every decorator on the way.</summary>
    public static T Find<T>(IPort? port) where T : class, IPort
    {
        for (var p = port; p is not null; p = (p as PortDecorator)?.Inner)
            if (p is T found) return found;
        throw new InvalidOperationException($"no {typeof(T).Name} in the port stack of {port?.Name}");
    }

    /// <summary>A TCP or UDP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort(SocketType type)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>The hash out of <c>sha256sum</c>'s output.</summary>
    public static string Sha(string output)
    {
        var hash = output.Trim().Split(' ', 2)[0];
        Assert.Matches(Sha256(), hash);
        return hash;
    }

    public static void AssertIperfReceived(string output) =>
        Assert.True(ReceiverRate().IsMatch(output), "no iperf3 receiver summary in:\n" + output);

    public async ValueTask DisposeAsync()
    {
        foreach (var guest in Guests) await guest.DisposeAsync();
        await Host.DisposeAsync();
        Work.Delete(recursive: true);
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256();

    [GeneratedRegex(@"\d+(\.\d+)? [KMG]bits/sec\s+\S*\s*receiver")]
    private static partial Regex ReceiverRate();
}
