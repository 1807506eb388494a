using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Cli.Serving;
using Polynic.Management.Hosting;
using Polynic.Management.Http;
using Polynic.Ports.Capture;
using Polynic.Rig;
using Polynic.Rig.Guests;

namespace Polynic.Cli.Demo;

/// <summary>
/// The main job: one Polynic process with two e1000 NICs on one Polynic switch, two Linux
/// guests under QEMU using them with the stock e1000 driver, ping and iperf3 between them,
/// a short report, a pcapng capture of both ports, and everything cleaned up afterwards.
/// </summary>
internal static partial class LanDemo
{
    /// <param name="output">Where the report goes.</param>
    /// <param name="loggers">Where the server's logs go.</param>
    /// <param name="captureDirectory">Where the capture goes.</param>
    /// <param name="dashboard">
    /// After the report, serve the HTTP API and dashboard on a free loopback port, print its URL
    /// with the token, and keep traffic flowing between the guests until <paramref name="cancellationToken"/>
    /// (Ctrl-C), then stop everything.
    /// </param>
    /// <param name="cancellationToken">Stops the demo.</param>
    public static async Task<bool> RunAsync(TextWriter output, ILoggerFactory loggers, string captureDirectory, bool dashboard, CancellationToken cancellationToken)
    {
        // Before anything slow: a capture directory that is refused ends the demo at once.
        var capture = DemoCapture.Prepare(captureDirectory, DateTime.Now);
        output.WriteLine("1/5 Preparing the guest rig (cached after the first run)...");
        var rig = new GuestRig();
        await rig.EnsurePreparedAsync(new LineProgress(output), cancellationToken);

        var work = Directory.CreateTempSubdirectory("polynic-demo-");
        try
        {
            var configuration = new PolynicConfiguration("demo",
                new CaptureConfiguration(capture, 512L << 20, 2, SnapLength: 96),
                [new SwitchConfiguration("lan0", TimeSpan.FromMinutes(5))],
                [
                    Nic("vm1", work.FullName, "52:54:00:de:00:01"),
                    Nic("vm2", work.FullName, "52:54:00:de:00:02"),
                ]);
            output.WriteLine("2/5 Starting Polynic: two e1000 NICs on switch lan0, capture on");
            await using var host = await ServerHost.StartAsync(configuration, ModulesDirectory.LoadDefault(output), loggers, cancellationToken);

            output.WriteLine("3/5 Booting two Linux guests under QEMU (TCG), each with a Polynic e1000 over vfio-user...");
            var boot = Stopwatch.StartNew();
            var starting = host.Functions.Select(f => rig.StartGuestAsync(new GuestOptions
            {
                Name = f.Name,
                VfioUserSockets = [f.Server.SocketPath],
                Cpus = 1,
            }, cancellationToken)).ToList();
            Guest[] guests;
            try
            {
                guests = await Task.WhenAll(starting);
            }
            catch
            {
                foreach (var t in starting.Where(t => t.IsCompletedSuccessfully)) await t.Result.DisposeAsync();
                throw;
            }
            await using var vm1 = guests[0];
            await using var vm2 = guests[1];
            output.WriteLine($"    both guests up after {boot.Elapsed.TotalSeconds:0.0} s");
            await ConfigureAsync(vm1, "10.80.0.1", cancellationToken);
            await ConfigureAsync(vm2, "10.80.0.2", cancellationToken);

            output.WriteLine("4/5 Traffic between the guests:");
            var ping = await vm1.RunCheckedAsync("ping -c 20 -i 0.1 -W 2 10.80.0.2", TimeSpan.FromMinutes(1), cancellationToken);
            var rtt = RoundTrip().Match(ping);
            var summary = PingSummary().Match(ping);
            output.WriteLine($"    ping vm1 -> vm2: {summary.Value}; average round trip {(rtt.Success ? rtt.Groups[1].Value : "?")} ms");
            await vm2.RunCheckedAsync("iperf3 -s -D -B 10.80.0.2", TimeSpan.FromSeconds(20), cancellationToken);
            await Task.Delay(500, cancellationToken);
            var there = Rate(await vm1.RunCheckedAsync("iperf3 -c 10.80.0.2 -t 5", TimeSpan.FromMinutes(2), cancellationToken));
            var back = Rate(await vm1.RunCheckedAsync("iperf3 -c 10.80.0.2 -t 5 -R", TimeSpan.FromMinutes(2), cancellationToken));
            output.WriteLine($"    iperf3 TCP vm1 -> vm2: {there}; vm2 -> vm1: {back}");

            output.WriteLine("5/5 Counters:");
            output.WriteLine("    port                frames in   frames out    bytes in    bytes out   drops");
            foreach (var port in host.Switches["lan0"].Ports)
            {
                var c = port.Counters;
                long drops = c.DroppedQueueFull + c.DroppedVlanMismatch + c.DroppedMalformed + c.DroppedLinkDown;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {port.Name,-18} {c.FramesIn,11} {c.FramesOut,12} {c.BytesIn,11} {c.BytesOut,12} {drops,7}"));
            }
            foreach (var f in host.Functions)
            {
                var n = f.Nic!.Counters;
                output.WriteLine($"    {f.Name} NIC: tx {n.TxFrames} frames, rx {n.RxFrames} frames, DMA faults {n.DmaFaults}, descriptor faults {n.DescriptorFaults}");
            }
            bool passed = summary.Success && summary.Groups[1].Value == summary.Groups[2].Value && there != "?" && back != "?";
            if (dashboard)
            {
                output.WriteLine(passed ? "Demo passed." : "Demo FAILED.");
                await ServeDashboardAsync(output, host, vm1, Path.Combine(captureDirectory, "captures"), loggers, cancellationToken);
            }
            var captured = host.Functions.Select(f => f.Port).OfType<CapturePort>().ToArray();
            await host.DisposeAsync();
            output.WriteLine($"Capture of both ports: {capture} (open with wireshark or tshark -r)");
            long leftOut = captured.Sum(c => c.Counters.FramesDropped);
            if (leftOut > 0)
                output.WriteLine($"    {leftOut} frames were left out of the capture: the disk was slower than the traffic (the guests' traffic was not affected)");
            if (!dashboard) output.WriteLine(passed ? "Demo passed." : "Demo FAILED.");
            return passed;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Serves the API and dashboard and keeps a ping and a 20 Mbit/s iperf3 stream running from vm1
    /// to vm2 until Ctrl-C, so the page has something to show. Everything it starts stops with the
    /// guests and the host, which the caller disposes.
    /// </summary>
    private static async Task ServeDashboardAsync(TextWriter output, ServerHost host, Guest vm1, string captures, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        await using var api = await HttpApiServer.StartAsync(host, new HttpApiOptions { Listen = "127.0.0.1:0", CaptureDirectory = captures }, loggers, cancellationToken);
        await vm1.RunCheckedAsync("(ping -i 0.2 10.80.0.2 >/dev/null 2>&1 &) ; (iperf3 -c 10.80.0.2 -t 0 -b 20M >/dev/null 2>&1 &)", TimeSpan.FromSeconds(20), cancellationToken);
        output.WriteLine($"Dashboard: {api.DashboardUrl}");
        output.WriteLine($"API and metrics: {api.Url}api/v1/nics, {api.Url}metrics (Authorization: Bearer, token in {api.TokenFile})");
        output.WriteLine("Traffic keeps flowing between the guests; Ctrl-C stops everything.");
        output.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        output.WriteLine("Stopping: the API, both guests and the server.");
    }

    private static NicConfiguration Nic(string name, string directory, string mac) =>
        new(name, "e1000", Path.Combine(directory, name + ".sock"), MacAddress.Parse(mac), [],
            new SwitchPortConfiguration("lan0", 1, null), null, 0);

    private static Task ConfigureAsync(Guest guest, string address, CancellationToken cancellationToken) =>
        guest.RunCheckedAsync(
            $"ip link set eth0 up && ip addr add {address}/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
            TimeSpan.FromSeconds(30), cancellationToken);

    private static string Rate(string iperf)
    {
        var m = Receiver().Match(iperf);
        return m.Success ? $"{m.Groups[1].Value} {m.Groups[2].Value}bit/s" : "?";
    }

    [GeneratedRegex(@"([\d.]+) ([KMG])bits/sec\s+\S*\s*receiver")]
    private static partial Regex Receiver();

    [GeneratedRegex(@"min/avg/max(?:/mdev)? = [\d.]+/([\d.]+)/")]
    private static partial Regex RoundTrip();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) (?:packets )?received")]
    private static partial Regex PingSummary();
}

/// <summary>Progress lines printed in order, on the reporting thread (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class LineProgress(TextWriter output) : IProgress<string>
{
    public void Report(string value)
    {
        lock (output) output.WriteLine($"    {value}");
    }
}
