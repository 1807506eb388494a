using System.Globalization;
using System.Text.RegularExpressions;
using Polynic.Rig;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;

namespace Polynic.GuestBenchmarks;

/// <summary>One variant's numbers from one round.</summary>
/// <param name="GuestToHostMbps">iperf3 TCP receiver rate, guest to the namespace behind the tap.</param>
/// <param name="HostToGuestMbps">The same, the other way (iperf3 -R).</param>
/// <param name="PingAverageMs">ping's average round trip.</param>
/// <param name="PingMedianMs">Median of the individual ping round trips.</param>
/// <param name="RetransmitsUp">TCP retransmissions the guest's sender made.</param>
/// <param name="RetransmitsDown">TCP retransmissions the namespace's sender made (host->guest).</param>
/// <param name="ConfigReadMicroseconds">Guest-measured time of one configuration-space dword read, NaN when not measured.</param>
/// <param name="Interrupts">Interrupts the NIC cost the guest per direction, as /proc/interrupts counted them.</param>
internal sealed record Measurement(double GuestToHostMbps, double HostToGuestMbps, double PingAverageMs, double PingMedianMs = double.NaN,
    long RetransmitsUp = 0, long RetransmitsDown = 0, double ConfigReadMicroseconds = double.NaN, string Interrupts = "")
{
    /// <summary>Frames lost on the way to the guest during host->guest, by where (see GuestNetworkBenchmark.LossAsync).</summary>
    public string LossesDown { get; init; } = "";

    /// <summary>Why the round failed; null when it measured.</summary>
    public string? Failure { get; init; }

    /// <summary>A round that did not complete.</summary>
    public static Measurement Failed(string why) => new(double.NaN, double.NaN, double.NaN) { Failure = why };

    public override string ToString() => Failure is { } why ? "failed: " + why : string.Create(CultureInfo.InvariantCulture,
        $"guest->host {GuestToHostMbps:0.##} Mbit/s (retr {RetransmitsUp}), host->guest {HostToGuestMbps:0.##} Mbit/s (retr {RetransmitsDown}), " +
        $"ping median {PingMedianMs:0.000} ms avg {PingAverageMs:0.000} ms, config read {ConfigReadMicroseconds:0.0} us");
}

/// <summary>A NIC under test: how to add it to a guest and which tap carries its frames.</summary>
internal interface IGuestNic
{
    string Name { get; }

    /// <summary>The guest driver that must bind it (checked before measuring).</summary>
    string Driver { get; }

    /// <summary>Prepares the NIC; returns what the guest needs and the tap interface to move into the peer namespace.</summary>
    Task<(GuestOptions Options, string TapName, IAsyncDisposable Resources)> PrepareAsync(GuestOptions baseOptions);
}

/// <summary>Boots a guest with the NIC, runs iperf3 both ways, ping, and a register-read loop against a namespace behind the tap.</summary>
internal static partial class GuestNetworkBenchmark
{
    /// <summary>Passes over the 256-byte configuration space (64 dword reads each) per probe.</summary>
    private const int ConfigPasses = 500;

    public static async Task<Measurement> MeasureAsync(GuestRig rig, GuestImage image, IGuestNic nic, int seconds, int pings)
    {
        var (options, tap, resources) = await nic.PrepareAsync(new GuestOptions { Name = "bench", MemoryMiB = 1024, Cpus = 2 });
        await using var _ = resources;
        await using var peer = await NetworkNamespace.CreateAsync(image.RootDirectory);
        await using var guest = await rig.StartGuestAsync(options);
        await peer.AdoptAsync(tap, "10.79.0.1/24");
        var driver = (await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", TimeSpan.FromSeconds(30))).Trim();
        if (driver != nic.Driver) throw new InvalidOperationException($"{nic.Name}: the guest bound {driver}, not {nic.Driver}");
        await guest.RunCheckedAsync(
            "ip link set eth0 up && ip addr add 10.79.0.2/24 dev eth0 && " +
            "for i in $(seq 1 100); do [ \"$(cat /sys/class/net/eth0/carrier)\" = 1 ] && exit 0; sleep 0.1; done; exit 1",
            TimeSpan.FromSeconds(30));
        peer.StartTool("iperf3 -s -B 10.79.0.1");
        await guest.RunCheckedAsync("ping -c 3 -W 2 10.79.0.1", TimeSpan.FromSeconds(20));
        var timeout = TimeSpan.FromSeconds(seconds * 3 + 120);
        var (up, upInterrupts) = await WithInterruptsAsync(guest, "guest->host", $"iperf3 -c 10.79.0.1 -t {seconds}", timeout);
        var lossBefore = await LossAsync(guest, peer, tap);
        var (down, downInterrupts) = await WithInterruptsAsync(guest, "host->guest", $"iperf3 -c 10.79.0.1 -t {seconds} -R", timeout);
        var loss = Difference(lossBefore, await LossAsync(guest, peer, tap));
        Console.WriteLine($"  host->guest losses: {loss}");
        var ping = await guest.RunCheckedAsync($"ping -c {pings} -i 0.05 10.79.0.1", TimeSpan.FromSeconds(pings * 0.2 + 60));
        double configRead = await ConfigReadMicrosecondsAsync(guest);
        return Parse(up, down, ping) with
        {
            ConfigReadMicroseconds = configRead,
            Interrupts = $"guest->host {upInterrupts}; host->guest {downInterrupts}",
            LossesDown = loss,
        };
    }

    /// <summary>
    /// Where frames going to the guest can be lost: the tap's own queue (tx_dropped: the device
    /// did not read the tap fast enough), and the guest's view of its NIC (missed: no receive
    /// buffer; dropped: the stack discarded it; fifo). Each counter's value now.
    /// </summary>
    private static async Task<long[]> LossAsync(Guest guest, NetworkNamespace peer, string tap)
    {
        const string Counters = "rx_missed_errors rx_fifo_errors rx_dropped rx_over_errors";
        string inGuest = await guest.RunCheckedAsync(
            $"cd /sys/class/net/eth0/statistics && cat {Counters}", TimeSpan.FromSeconds(20));
        string onTap = await peer.RunAsync($"cat /sys/class/net/{tap}/statistics/tx_dropped", TimeSpan.FromSeconds(20));
        var values = (inGuest + "\n" + onTap).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return values.Length == 5 ? values : throw new InvalidOperationException("loss counters: " + inGuest + " / " + onTap);
    }

    private static string Difference(long[] before, long[] after)
    {
        string[] names = ["guest missed", "guest fifo", "guest dropped", "guest overrun", "tap dropped"];
        return string.Join(", ", names.Select((n, i) => $"{n} {after[i] - before[i]}"));
    }

    /// <summary>
    /// The guest's time for one configuration-space dword read of the NIC: one process reads the
    /// 256-byte config file <see cref="ConfigPasses"/> times (64 dword reads each, side-effect
    /// free), timed by the guest's clock. On a vfio-user card most of these reach the server as a
    /// REGION_READ and back while the vCPU waits; QEMU answers the rest from its own copy.
    /// </summary>
    private static async Task<double> ConfigReadMicrosecondsAsync(Guest guest)
    {
        // The guest's busybox date has no %N: /proc/uptime (10 ms steps) over enough reads instead.
        var text = await guest.RunCheckedAsync(
            // A virtio NIC's device link is the virtio device; its PCI function (with the config file) is the parent.
            "d=$(readlink -f /sys/class/net/eth0/device); [ -f $d/config ] || d=$(dirname $d); f=$(for i in $(seq 1 " + ConfigPasses + "); do printf '%s ' $d/config; done); " +
            "s=$(cut -d' ' -f1 /proc/uptime); cat $f >/dev/null; e=$(cut -d' ' -f1 /proc/uptime); echo \"$s $e\"", TimeSpan.FromMinutes(5));
        var times = text.Trim().Split(' ').Select(t => double.TryParse(t, CultureInfo.InvariantCulture, out double v) ? v : double.NaN).ToArray();
        if (times.Length != 2 || times.Any(double.IsNaN)) throw new InvalidOperationException("config-space read loop said: " + text.Trim());
        return (times[1] - times[0]) * 1e6 / (ConfigPasses * 64);
    }

    /// <summary>
    /// Runs <paramref name="command"/> and returns its output and how many interrupts each of the
    /// NIC's vectors took meanwhile (the guest's /proc/interrupts, virtio or eth lines).
    /// </summary>
    private static async Task<(string Output, string Interrupts)> WithInterruptsAsync(Guest guest, string label, string command, TimeSpan timeout)
    {
        const string Snapshot = "grep -E 'virtio|eth' /proc/interrupts | awk '{s=0; for (i=2; i<=NF; i++) if ($i ~ /^[0-9]+$/) s+=$i; else break; print $NF, s}'";
        var before = Counts(await guest.RunCheckedAsync(Snapshot, TimeSpan.FromSeconds(20)));
        var cpuBefore = ThreadCpu.Snapshot(guest.ProcessId);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var output = await guest.RunCheckedAsync(command, timeout);
        var cpu = ThreadCpu.Difference(cpuBefore, ThreadCpu.Snapshot(guest.ProcessId), clock.Elapsed);
        var after = Counts(await guest.RunCheckedAsync(Snapshot, TimeSpan.FromSeconds(20)));
        var deltas = string.Join(", ", after.Where(a => a.Value != before.GetValueOrDefault(a.Key)).Select(a => $"{a.Key}={a.Value - before.GetValueOrDefault(a.Key)}"));
        Console.WriteLine($"  {label} interrupts: {deltas}; CPU (of one core): {cpu}");
        return (output, $"{deltas} (CPU: {cpu})");

        static Dictionary<string, long> Counts(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Where(f => f.Length == 2)
            .GroupBy(f => f[0]).ToDictionary(g => g.Key, g => g.Sum(f => long.Parse(f[1], CultureInfo.InvariantCulture)));
    }

    /// <summary>Reads iperf3's receiver rates and senders' retransmissions (one direction each) and ping's round trips.</summary>
    public static Measurement Parse(string up, string down, string ping) =>
        new(ReceiverMbps(up), ReceiverMbps(down), PingAverage(ping), PingMedian(ping), Retransmits(up), Retransmits(down));

    private static double ReceiverMbps(string iperf)
    {
        var m = Receiver().Match(iperf);
        if (!m.Success) throw new InvalidOperationException("no iperf3 receiver line in:\n" + iperf);
        double value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "G" => value * 1000, "K" => value / 1000, "" => value / 1e6, _ => value };
    }

    private static long Retransmits(string iperf)
    {
        var m = Sender().Match(iperf);
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static double PingAverage(string ping)
    {
        var m = RoundTrip().Match(ping);
        if (!m.Success) throw new InvalidOperationException("no round-trip line in:\n" + ping);
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static double PingMedian(string ping)
    {
        var times = EchoTime().Matches(ping).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Order().ToArray();
        return times.Length == 0 ? double.NaN : times[times.Length / 2];
    }

    [GeneratedRegex(@"([\d.]+) ([KMG]?)bits/sec\s+\S*\s*receiver")]
    private static partial Regex Receiver();

    [GeneratedRegex(@"bits/sec\s+(\d+)\s+sender")]
    private static partial Regex Sender();

    [GeneratedRegex(@"min/avg/max = [\d.]+/([\d.]+)/")]
    private static partial Regex RoundTrip();

    [GeneratedRegex(@"time=([\d.]+) ms")]
    private static partial Regex EchoTime();
}
