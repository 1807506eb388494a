using Polynic.Core.Nic;
using Polynic.Ports.Tap;
using Polynic.Rig;
using Polynic.Rig.Guests;

using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// One guest with one Polynic NIC whose tap port sits in a namespace of its own:
/// guest 10.77.N.2/24 (eth0) — Polynic — tap 10.77.N.1/24 in <see cref="Peer"/>.
/// </summary>
internal sealed class NicRig<TDevice> : IAsyncDisposable where TDevice : NicDevice
{
    private static int s_subnet;

    private NicRig(ServedDevice<TDevice> served, NetworkNamespace peer, Guest guest, int subnet)
    {
        Served = served;
        Peer = peer;
        Guest = guest;
        Subnet = subnet;
    }

    public ServedDevice<TDevice> Served { get; }
    public TDevice Device => Served.Device;
    public NetworkNamespace Peer { get; }
    public Guest Guest { get; }
    public int Subnet { get; }
    public string TapName => Served.Port!.InterfaceName;
    public string PeerAddress => $"10.77.{Subnet}.1";
    public string GuestAddress => $"10.77.{Subnet}.2";

    public static async Task<NicRig<TDevice>> StartAsync(GuestRig rig, TDevice device, string name, int mtu = 1500, bool vnetHeader = true, string extraKernelArguments = "",
        Func<GuestOptions, GuestOptions>? shape = null, bool offerMsix = true)
    {
        int subnet = Interlocked.Increment(ref s_subnet) % 250;
        var image = await rig.EnsurePreparedAsync();
        var served = await ServedDevice<TDevice>.StartAsync(device, name, new TapPortOptions { InterfaceName = "pnt%d", VnetHeader = vnetHeader }, offerMsix);
        NetworkNamespace? peer = null;
        try
        {
            peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
            await peer.AdoptAsync(served.Port!.InterfaceName, $"10.77.{subnet}.1/24", mtu);
            var options = new GuestOptions
            {
                Name = name,
                VfioUserSockets = [served.SocketPath],
                ExtraKernelArguments = extraKernelArguments,
            };
            var guest = await rig.StartGuestAsync(shape?.Invoke(options) ?? options);
            return new NicRig<TDevice>(served, peer, guest, subnet);
        }
        catch
        {
            if (peer is not null) await peer.DisposeAsync();
            await served.DisposeAsync();
            throw;
        }
    }

    /// <summary>Brings eth0 up with its address and waits for carrier (the driver's watchdog reports link within ~2 s).</summary>
    public async Task ConfigureGuestAsync(int mtu = 1500)
    {
        await Guest.RunCheckedAsync(
            $"ip link set eth0 mtu {mtu} && ip link set eth0 up && ip addr add {GuestAddress}/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
            TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits for carrier again, e.g. after the driver reset the NIC (self-test, MTU change).</summary>
    public Task ConfigureGuestAfterResetAsync() => Guest.RunCheckedAsync(
        "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
        TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await Guest.DisposeAsync();
        await Peer.DisposeAsync();
        await Served.DisposeAsync();
    }
}
