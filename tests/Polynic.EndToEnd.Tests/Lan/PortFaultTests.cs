using System.Diagnostics;
using Polynic.EndToEnd.Tests.Network;
using Polynic.Management.Configuration;
using Polynic.Ports.Capture;
using Polynic.Ports.Faults;
using Polynic.Ports.Tap;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Xunit.Abstractions;

namespace Polynic.EndToEnd.Tests.Lan;

/// <summary>
/// Fault injection on a served NIC's port, changed at run time while a real guest uses it:
/// the server is built from a configuration with faults and capture on a tap port (so the
/// port stack is capture → fault injection → tap), the tap's far end is a namespace.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class PortFaultTests(RigFixture rig, ITestOutputHelper output)
{
    private const string PeerAddress = "10.83.0.1", GuestAddress = "10.83.0.2";

    [Fact]
    public async Task Forced_link_down_reaches_the_driver_within_a_second_and_carrier_at_its_watchdog_link_up_restores_ping_tcp_survives_10_percent_drop()
    {
        var image = await rig.Rig.EnsurePreparedAsync();
        await using var lan = await LanRig.StartAsync(rig.Rig,
            work => new PolynicConfiguration("lan-faults",
                new CaptureConfiguration(Path.Combine(work, "faults.pcapng"), 1L << 30, 1, SnapLength: 128),
                [],
                [LanRig.E1000("flaky", work, "52:54:00:83:00:02", new TapPortConfiguration("plf%d", VnetHeader: true, BringUp: false),
                    new FaultConfiguration(Seed: 83, Drop: 0, Corrupt: 0, DelayMs: 0, LinkDown: false))]),
            host => [LanRig.PolynicGuest(host.Functions[0], memoryMiB: 384)]);
        var guest = lan.Guests[0];
        var stack = lan.Host.Functions[0].Port;
        // The outermost decorator is the capture; the fault injection sits inside it.
        Assert.IsType<CapturePort>(stack);
        var faults = LanRig.Find<FaultInjectionPort>(stack);
        var tap = LanRig.Find<TapPort>(stack);
        await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
        await peer.AdoptAsync(tap.InterfaceName, $"{PeerAddress}/24");
        await LanRig.ConfigureAsync(guest, GuestAddress);
        PingOutput.AssertAllAnswered(await guest.RunCheckedAsync($"ping -c 5 -i 0.2 -W 2 {PeerAddress}", TimeSpan.FromSeconds(30)), 5);

        // Pull the cable. The device reports it at once (STATUS.LU and the PHY's link bit clear, LSC
        // raised); the driver reads the PHY again when ethtool asks, so "Link detected" shows what
        // the device told it. The carrier flag only follows when the driver's watchdog runs: its
        // interrupt handler asks for a run "in one jiffy" with schedule_delayed_work, a no-op
        // while the periodic 2 s run is already pending, so carrier lags by up to 2 s (QEMU's own
        // e1000 lags the same way; see the test report).
        long transitions = faults.Counters.LinkTransitions;
        var down = await TimeLinkChangeAsync(guest, up: false, () => faults.Settings = faults.Settings with { LinkDown = true });
        output.WriteLine($"link down: ethtool after {down.Device.TotalMilliseconds:0} ms, carrier 0 after {down.Carrier.TotalMilliseconds:0} ms");
        Assert.True(down.Device < TimeSpan.FromSeconds(1), $"the driver saw the link down only after {down.Device.TotalMilliseconds:0} ms");
        Assert.True(down.Carrier < WatchdogBound, $"carrier 0 only after {down.Carrier.TotalMilliseconds:0} ms");
        Assert.Contains("NO-CARRIER", await guest.RunCheckedAsync("ip link show eth0", TimeSpan.FromSeconds(10)));
        Assert.Equal(transitions + 1, faults.Counters.LinkTransitions);
        // Nothing crosses while it is down.
        var lost = await guest.RunAsync($"ping -c 2 -W 1 {PeerAddress}", TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, lost.ExitCode);

        // Plug it back in: carrier returns and ping works again.
        var up = await TimeLinkChangeAsync(guest, up: true, () => faults.Settings = faults.Settings with { LinkDown = false });
        output.WriteLine($"link up: ethtool after {up.Device.TotalMilliseconds:0} ms, carrier 1 after {up.Carrier.TotalMilliseconds:0} ms");
        Assert.True(up.Device < TimeSpan.FromSeconds(1), $"the driver saw the link up only after {up.Device.TotalMilliseconds:0} ms");
        Assert.True(up.Carrier < WatchdogBound, $"carrier 1 only after {up.Carrier.TotalMilliseconds:0} ms");
        Assert.DoesNotContain("NO-CARRIER", await guest.RunCheckedAsync("ip link show eth0", TimeSpan.FromSeconds(10)));
        PingOutput.AssertAllAnswered(await guest.RunCheckedAsync($"ping -c 5 -i 0.2 -W 2 {PeerAddress}", TimeSpan.FromSeconds(30)), 5);
        Assert.Equal(transitions + 2, faults.Counters.LinkTransitions);

        // 10% of the frames lost each way: TCP still delivers the whole file, intact.
        await peer.RunToolAsync($"dd if=/dev/urandom of={peer.ScratchInRoot}/blob bs=1M count=16 2>/dev/null");
        var served = LanRig.Sha(await peer.RunToolAsync($"sha256sum {peer.ScratchInRoot}/blob"));
        peer.StartTool($"busybox httpd -f -p 8080 -h {peer.ScratchInRoot}");
        await Task.Delay(300);
        var lossy = new DirectionFaults { DropProbability = 0.10 };
        var (sentBefore, receivedBefore) = (tap.Counters.FramesSent, tap.Counters.FramesReceived);
        var (outDroppedBefore, inDroppedBefore) = (faults.Counters.Outbound.Dropped, faults.Counters.Inbound.Dropped);
        faults.Settings = new FaultSettings { Outbound = lossy, Inbound = lossy };
        var copy = Stopwatch.StartNew();
        var fetched = LanRig.Sha(await guest.RunCheckedAsync(
            $"wget -q -O /tmp/blob http://{PeerAddress}:8080/blob && sha256sum /tmp/blob", TimeSpan.FromMinutes(4)));
        faults.Settings = FaultSettings.None;
        output.WriteLine($"16 MiB over 10% loss each way: {copy.Elapsed.TotalSeconds:0.0} s; faults: {faults.Counters}; tap: {tap.Counters}");
        Assert.Equal(served, fetched);

        // About one frame in ten was lost in each direction (the seed is fixed, the traffic is not).
        long outDropped = faults.Counters.Outbound.Dropped - outDroppedBefore, inDropped = faults.Counters.Inbound.Dropped - inDroppedBefore;
        // Outbound the faults sit before the tap (it counts what passed); inbound after it (it counts all).
        long outPassed = tap.Counters.FramesSent - sentBefore, inAll = tap.Counters.FramesReceived - receivedBefore;
        Assert.InRange(outDropped / (double)(outDropped + outPassed), 0.05, 0.15);
        Assert.InRange(inDropped / (double)inAll, 0.05, 0.15);
        Assert.Null(faults.LastReceiverFault);
        Assert.Null(lan.Host.Functions[0].Function.FailureReason);
    }

    /// <summary>The e1000 driver's watchdog runs every 2 s (round_jiffies); some slack for TCG and the polling.</summary>
    private static readonly TimeSpan WatchdogBound = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Applies <paramref name="change"/> and polls the guest with one short command at a time
    /// until ethtool's "Link detected" (the driver asking the device) and then the carrier flag
    /// show the new state; returns when each first did, from the moment of the change.
    /// </summary>
    private static async Task<(TimeSpan Device, TimeSpan Carrier)> TimeLinkChangeAsync(Guest guest, bool up, Action change)
    {
        var clock = Stopwatch.StartNew();
        change();
        TimeSpan? device = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            var lines = (await guest.RunCheckedAsync("ethtool eth0 | grep 'Link detected'; cat /sys/class/net/eth0/carrier", TimeSpan.FromSeconds(10)))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (device is null && lines.Contains($"Link detected: {(up ? "yes" : "no")}")) device = clock.Elapsed;
            if (device is not null && lines[^1] == (up ? "1" : "0")) return (device.Value, clock.Elapsed);
        }
        throw new TimeoutException($"the guest never saw the link {(up ? "up" : "down")} within 15 s");
    }
}
