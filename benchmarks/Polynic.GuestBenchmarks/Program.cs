using System.Globalization;
using System.Text;
using Polynic.GuestBenchmarks;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;
using Polynic.Rig;

// End-to-end comparison with real guests: Polynic's e1000 over vfio-user vs QEMU's built-in
// e1000, same QEMU, same guest kernel, same port type (a tap into a network namespace), run
// side by side in one process, alternating rounds so machine noise hits both alike.
// Usage: dotnet run -c Release --project benchmarks/Polynic.GuestBenchmarks -- [seconds] [rounds] [report.md] [e1000|virtio-net]
int seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
string? reportPath = args.Length > 2 && args[2] != "-" ? args[2] : null;
string personality = args.Length > 3 ? args[3] : "e1000";

var rig = new GuestRig();
var image = await rig.EnsurePreparedAsync(new Progress<string>(Console.WriteLine));
if (personality == "switch")
{
    // Guest to guest: Polynic's switch vs QEMU's e1000 joined by -netdev stream.
    var rows = new Dictionary<string, List<Measurement>> { ["QEMU e1000 + -netdev stream"] = [], ["Polynic e1000 + Polynic switch"] = [] };
    for (int round = 1; round <= rounds; round++)
    {
        Console.WriteLine($"round {round}/{rounds}");
        rows["QEMU e1000 + -netdev stream"].Add(await GuestToGuestBenchmark.QemuStreamAsync(rig, seconds));
        rows["Polynic e1000 + Polynic switch"].Add(await GuestToGuestBenchmark.PolynicSwitchAsync(rig, seconds));
        foreach (var (name, list) in rows) Console.WriteLine($"  {name}: {list[^1]}");
    }
    var table = Report(rows, image, seconds, rounds, "guest A->B", "guest B->A");
    Console.WriteLine(table);
    if (reportPath is not null) await File.WriteAllTextAsync(reportPath, table);
    return;
}

var variants = personality switch
{
    "e1000" => new IGuestNic[] { new QemuBuiltIn("e1000"), new PolynicNic("e1000", s => new E1000Device(s)) },
    "virtio-net" => [new QemuBuiltIn("virtio-net-pci"), new PolynicNic("virtio-net", s => new VirtioNetDevice(s))],
    _ => throw new ArgumentException($"unknown personality '{personality}' (e1000, virtio-net or switch)"),
};
var results = variants.ToDictionary(v => v.Name, _ => new List<Measurement>());
for (int round = 1; round <= rounds; round++)
{
    foreach (var variant in variants)
    {
        Console.WriteLine($"round {round}/{rounds}: {variant.Name}");
        var m = await GuestNetworkBenchmark.MeasureAsync(rig, image, variant, seconds);
        Console.WriteLine($"  guest->host {m.GuestToHostMbps:0} Mbit/s, host->guest {m.HostToGuestMbps:0} Mbit/s, ping avg {m.PingAverageMs:0.000} ms");
        results[variant.Name].Add(m);
    }
}

var report = Report(results, image, seconds, rounds, "guest->host", "host->guest");
Console.WriteLine();
Console.WriteLine(report);
if (reportPath is not null) await File.WriteAllTextAsync(reportPath, report);

static string Report(Dictionary<string, List<Measurement>> results, GuestImage image, int seconds, int rounds, string there, string back)
{
    var report = new StringBuilder();
    report.AppendLine($"QEMU {image.QemuVersion}, guest kernel {image.KernelRelease}, TCG, {Environment.ProcessorCount} host cores, iperf3 TCP {seconds} s per direction, median of {rounds} rounds.");
    report.AppendLine();
    report.AppendLine($"| variant | {there} Mbit/s | {back} Mbit/s | ping avg ms |");
    report.AppendLine("|---|---:|---:|---:|");
    foreach (var (name, list) in results)
        report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {Median(list, x => x.GuestToHostMbps):0} | {Median(list, x => x.HostToGuestMbps):0} | {Median(list, x => x.PingAverageMs):0.000} |");
    var q = results.Values.First();
    var p = results.Values.Last();
    report.AppendLine(CultureInfo.InvariantCulture,
        $"| **ratio Polynic / QEMU** | **{Median(p, x => x.GuestToHostMbps) / Median(q, x => x.GuestToHostMbps):0.00}x** | **{Median(p, x => x.HostToGuestMbps) / Median(q, x => x.HostToGuestMbps):0.00}x** | {Median(p, x => x.PingAverageMs) / Median(q, x => x.PingAverageMs):0.00}x |");
    return report.ToString();
}

static double Median(List<Measurement> list, Func<Measurement, double> pick)
{
    var values = list.Select(pick).Order().ToArray();
    return values.Length == 0 ? double.NaN : values[values.Length / 2];
}
