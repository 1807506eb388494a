using System.Text.Json;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// Cards served by a running <c>polynic serve</c> and plugged into a running guest through QMP, as
/// a user swaps them: <c>nics add</c> then <c>device_add</c>; <c>device_del</c>, wait until QEMU
/// has dropped the device, then <c>nics remove</c>. On <c>q35</c> cards go behind PCIe root ports
/// (<see cref="RootPorts"/>), since a device on the root complex itself cannot be unplugged.
/// </summary>
internal static class HotPlug
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(30);

    /// <summary>QEMU arguments for <paramref name="machine"/>: two hot-plug root ports on q35, nothing on pc (ACPI hot-plug on pci.0).</summary>
    public static IReadOnlyList<string> RootPorts(string machine) => machine == "q35"
        ? ["-device", "pcie-root-port,id=hp0,bus=pcie.0,chassis=1,slot=1", "-device", "pcie-root-port,id=hp1,bus=pcie.0,chassis=2,slot=2"]
        : [];

    /// <summary>Serves a new NIC from <paramref name="spec"/> (everything after the socket path) and returns its socket.</summary>
    public static async Task<string> AddNicAsync(PolynicProcess server, string work, string personality, string name, string spec)
    {
        string socket = Path.Combine(work, name + ".sock");
        var (added, warning) = await server.ManageJsonAsync("nics", "add", $"{personality}:{socket},name={name}{spec}");
        Assert.Equal(personality, added.GetProperty("personality").GetString());
        Assert.False(added.GetProperty("msix").GetBoolean(), $"{name} was served with MSI-X, whose unplug aborts QEMU 10.2-11.1: {warning}");
        Assert.Null(warning);
        return socket;
    }

    /// <summary>Serves a NIC behind a new tap and gives the tap's peer end its address in <paramref name="peer"/>.</summary>
    public static async Task<string> AddTapNicAsync(PolynicProcess server, NetworkNamespace peer, string work, string personality, string name,
        string tap, string mac, string peerAddress, string options = "")
    {
        string socket = await AddNicAsync(server, work, personality, name, $",tap={tap},mac={mac}{options}");
        await peer.AdoptAsync(tap, peerAddress + "/24");
        return socket;
    }

    /// <summary>QMP <c>device_add</c> of a vfio-user-pci device on <paramref name="socket"/> (behind root port <c>hpN</c> on q35).</summary>
    public static Task AttachAsync(Guest guest, string machine, string deviceId, string socket, int slot)
    {
        string bus = machine == "q35" ? $",\"bus\":\"hp{slot % 2}\"" : "";
        return guest.QmpAsync($$$$"""{"execute":"device_add","arguments":{"driver":"vfio-user-pci","id":"{{{{deviceId}}}}"{{{{bus}}}},"socket":{"type":"unix","path":"{{{{socket}}}}"}}}""");
    }

    /// <summary>Waits until the hot-plugged card has its driver and its interface, then configures it.</summary>
    public static async Task ExpectDriverAsync(Guest guest, string driver, string mac, string address)
    {
        var bound = await guest.RunCheckedAsync(
            $"for i in $(seq 1 300); do [ \"$(cat /sys/class/net/eth0/address 2>/dev/null)\" = {mac} ] && break; sleep 0.1; done; " +
            "basename $(readlink /sys/class/net/eth0/device/driver)", Short);
        Assert.Equal(driver, bound.Trim());
        await guest.RunCheckedAsync(
            $"ip link set eth0 up && ip addr add {address}/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier 2>/dev/null)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
            Short);
    }

    /// <summary>
    /// QMP <c>device_del</c>, then waits until QEMU has dropped the device and closed its vfio-user
    /// connection, and removes the NIC from the server. Fails at once if QEMU dies meanwhile.
    /// </summary>
    public static async Task DetachAsync(Guest guest, PolynicProcess server, string deviceId, string nic)
    {
        var clock = await UnplugAsync(guest, deviceId);
        while (Connected(await server.ManageCheckedAsync("nics", "list"), nic))
        {
            Assert.True(clock.Elapsed < Short, $"QEMU dropped {deviceId} but kept its vfio-user connection to {nic}");
            await Task.Delay(100);
        }
        await server.ManageCheckedAsync("nics", "remove", nic);
    }

    /// <summary>
    /// QMP <c>device_del</c>, then waits until QEMU has dropped the device (it is gone from
    /// /machine/peripheral, which happens with DEVICE_DELETED); fails at once if QEMU dies
    /// meanwhile. Returns the clock started at the request.
    /// </summary>
    public static async Task<System.Diagnostics.Stopwatch> UnplugAsync(Guest guest, string deviceId)
    {
        await guest.QmpAsync($$$"""{"execute":"device_del","arguments":{"id":"{{{deviceId}}}"}}""");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (guest.HasExited) Assert.Fail($"QEMU died on device_del of {deviceId}: {await ExitReportAsync(guest)}");
            var peripherals = await guest.QmpAsync("""{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}""");
            if (!peripherals.EnumerateArray().Any(p => p.GetProperty("name").GetString() == deviceId)) return clock;
            Assert.True(clock.Elapsed < Short, $"QEMU still has {deviceId} {clock.Elapsed.TotalSeconds:0} s after device_del");
            await Task.Delay(100);
        }
    }

    /// <summary>QEMU still runs the guest: QMP answers "running" and the guest's shell answers.</summary>
    public static async Task AssertVmAliveAsync(Guest guest)
    {
        if (guest.HasExited) Assert.Fail(await ExitReportAsync(guest));
        var status = await guest.QmpAsync("""{"execute":"query-status"}""");
        Assert.Equal("running", status.GetProperty("status").GetString());
        Assert.Equal("alive", (await guest.RunCheckedAsync("echo alive", Short)).Trim());
    }

    private static bool Connected(string nicsList, string nic) =>
        JsonDocument.Parse(nicsList).RootElement.EnumerateArray().Single(n => n.GetProperty("name").GetString() == nic).GetProperty("connected").GetBoolean();

    private static async Task<string> ExitReportAsync(Guest guest)
    {
        for (int i = 0; i < 50 && guest.ExitReport is null; i++) await Task.Delay(100); // its stderr is still being read
        return guest.ExitReport ?? "QEMU exited";
    }
}
