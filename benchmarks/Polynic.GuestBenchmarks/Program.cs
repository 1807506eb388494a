using System.CommandLine;
using System.Globalization;
using System.Text;
using Polynic.GuestBenchmarks;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;
using Polynic.Rig;

// End-to-end comparison with real guests: a Polynic card served by `polynic serve` (the process
// users run) over vfio-user against QEMU's own model of the same card; same QEMU, same guest
// kernel, same port type (a tap into a network namespace); variants alternate round by round so
// machine noise hits both alike. `roundtrip` times Polynic's share of one register read.
var card = new Option<string>("--card", "-c") { Description = "e1000, e1000e, virtio-net, rtl8139cp, rtl8139, ne2000, or switch (guest to guest).", DefaultValueFactory = _ => "e1000" };
var seconds = new Option<int>("--seconds", "-s") { Description = "iperf3 seconds per direction.", DefaultValueFactory = _ => 10 };
var rounds = new Option<int>("--rounds", "-r") { Description = "Rounds; each boots a guest per variant.", DefaultValueFactory = _ => 10 };
var pings = new Option<int>("--pings") { Description = "Echo requests per round (the median is reported).", DefaultValueFactory = _ => 100 };
var kernel = new Option<string>("--kernel", "-k") { Description = "Guest kernel: 6.12 (trixie, the default) or 6.1 (bookworm).", DefaultValueFactory = _ => "6.12" };
var embedded = new Option<bool>("--embedded") { Description = "Also serve Polynic's card from this process (e1000 and virtio-net): shows what the served process costs, and prints device counters." };
var report = new Option<FileInfo?>("--report") { Description = "Write the markdown report here too." };
var polynic = new Option<FileInfo?>("--polynic") { Description = "The polynic executable to serve with (default: artifacts/cli/polynic, built first); another build's, to compare two." };
var alsoServeWith = new Option<FileInfo?>("--also-serve-with") { Description = "A second polynic executable (another build, or a wrapper setting an experiment's environment) served as a third variant in the same rounds." };
var serveOptions = new Option<string[]>("--serve-option") { Description = "An argument appended to `polynic serve` (repeat; e.g. --serve-option=--busy-poll-us --serve-option=0).", Arity = ArgumentArity.ZeroOrMore };
var cpuLoad = new Option<int>("--cpu-load") { Description = "CPU-bound processes to run beside the guests for the whole campaign (as a build would), to see who holds up when cores are contended.", DefaultValueFactory = _ => 0 };
var reads = new Option<int>("--reads") { Description = "REGION_READs per register.", DefaultValueFactory = _ => 20000 };

var guest = new RootCommand("Polynic against QEMU's own devices in real guests (TCG), through `polynic serve`.");
foreach (var o in new Option[] { card, seconds, rounds, pings, kernel, embedded, report, polynic, serveOptions, cpuLoad, alsoServeWith }) guest.Options.Add(o);
guest.SetAction(async (parse, _) =>
{
    UseBuild(parse.GetValue(polynic));
    var rig = parse.GetValue(kernel) switch
    {
        "6.12" => new GuestRig(),
        "6.1" => new GuestRig(new GuestRigOptions { Kernel = new KernelSource("linux-image-amd64", "bookworm") }),
        var k => throw new ArgumentException($"unknown kernel '{k}' (6.12 or 6.1)"),
    };
    var image = await rig.EnsurePreparedAsync(new Progress<string>(Console.WriteLine));
    string name = parse.GetValue(card)!;
    int s = parse.GetValue(seconds), n = parse.GetValue(rounds);
    using var load = CpuLoad.Start(parse.GetValue(cpuLoad));
    string text = name == "switch"
        ? await SwitchAsync(rig, image, s, n)
        : await CardAsync(rig, image, Card.Find(name), s, n, parse.GetValue(pings), parse.GetValue(embedded), parse.GetValue(serveOptions) ?? [], parse.GetValue(alsoServeWith));
    if (load.Count > 0) text += $"\nWith {load.Count} CPU-bound process(es) (sha256sum /dev/zero) running beside the guests throughout.\n";
    Console.WriteLine();
    Console.WriteLine(text);
    if (parse.GetValue(report) is { } file) await File.WriteAllTextAsync(file.FullName, text);
    return 0;
});

var roundtrip = new Command("roundtrip", "Polynic's share of a register read: REGION_READs from a client on this machine to `polynic serve`, timed one by one.");
roundtrip.Options.Add(card);
roundtrip.Options.Add(reads);
roundtrip.Options.Add(polynic);
roundtrip.SetAction(async (parse, _) =>
{
    UseBuild(parse.GetValue(polynic));
    var names = parse.GetValue(card) is "all" ? Card.All.Select(c => c.Name) : [parse.GetValue(card)!];
    foreach (var name in names) Console.Write(await RegisterRoundTrip.RunAsync(Card.Find(name), parse.GetValue(reads)));
    return 0;
});
guest.Subcommands.Add(roundtrip);
return await guest.Parse(args).InvokeAsync();

static void UseBuild(FileInfo? executable)
{
    if (executable is null) Serve.EnsureBuilt();
    else Serve.Executable = executable.Exists ? executable.FullName : throw new FileNotFoundException("no polynic executable at " + executable.FullName);
    Console.WriteLine($"serving with {Serve.Executable}");
}

static async Task<string> CardAsync(GuestRig rig, GuestImage image, Card card, int seconds, int rounds, int pings, bool embedded, string[] serveOptions, FileInfo? alsoServeWith)
{
    var variants = new List<IGuestNic> { new QemuBuiltIn(card.QemuModel, card.QemuDriver), new ServedNic(card, serveOptions) };
    if (alsoServeWith is not null)
        variants.Add(new ServedNic(card, serveOptions, alsoServeWith.Exists ? alsoServeWith.FullName : throw new FileNotFoundException("no executable at " + alsoServeWith.FullName)));
    if (embedded)
    {
        variants.Add(card.Name switch
        {
            "e1000" => new PolynicNic("e1000", "e1000", s => new E1000Device(s)),
            "virtio-net" => new PolynicNic("virtio-net", "virtio_net", s => new VirtioNetDevice(s)),
            _ => throw new ArgumentException("--embedded serves e1000 and virtio-net only"),
        });
    }
    var results = variants.ToDictionary(v => v.Name, _ => new List<Measurement>());
    for (int round = 1; round <= rounds; round++)
    {
        // Alternate which variant goes first, so neither always meets a freshly idle machine.
        foreach (var variant in round % 2 == 1 ? variants : Enumerable.Reverse(variants))
        {
            Console.WriteLine($"round {round}/{rounds}: {variant.Name}");
            try
            {
                var m = await GuestNetworkBenchmark.MeasureAsync(rig, image, variant, seconds, pings);
                Console.WriteLine($"  {m}");
                results[variant.Name].Add(m);
            }
            catch (Exception e) when (e is Polynic.Rig.RigException or InvalidOperationException)
            {
                // A round that hangs or breaks (QEMU's own ne2k_pci has stalled an iperf3 -R here)
                // is reported as failed and left out of the medians, not allowed to end the campaign.
                Console.WriteLine($"  round failed: {e.Message.Split('\n')[0]}");
                results[variant.Name].Add(Measurement.Failed(e.Message.Split('\n')[0]));
            }
        }
    }
    return Report(results, image, $"iperf3 TCP {seconds} s per direction, {pings} pings at 50 ms, {rounds} rounds alternating", "guest->host", "host->guest");
}

static async Task<string> SwitchAsync(GuestRig rig, GuestImage image, int seconds, int rounds)
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
    return Report(rows, image, $"iperf3 TCP {seconds} s per direction, {rounds} rounds", "guest A->B", "guest B->A");
}

static string Report(Dictionary<string, List<Measurement>> results, GuestImage image, string method, string there, string back)
{
    var r = new StringBuilder();
    r.AppendLine(CultureInfo.InvariantCulture, $"QEMU {image.QemuVersion}, guest kernel {image.KernelRelease}, TCG, 2 vCPUs, 1 GiB, {Environment.ProcessorCount} host cores; {method}.");
    r.AppendLine();
    r.AppendLine(CultureInfo.InvariantCulture, $"| variant | {there} Mbit/s median [min-max] | {back} Mbit/s median [min-max] | ping median ms [min-max] | config read us | retransmits {there} / {back} (median) |");
    r.AppendLine("|---|---:|---:|---:|---:|---:|");
    foreach (var (name, list) in results)
    {
        r.AppendLine(CultureInfo.InvariantCulture,
            $"| {name} | {Spread(list, x => x.GuestToHostMbps, "0.##")} | {Spread(list, x => x.HostToGuestMbps, "0.##")} | {Spread(list, x => x.PingMedianMs, "0.000")} | " +
            $"{Median(list, x => x.ConfigReadMicroseconds):0.0} | {Median(list, x => x.RetransmitsUp):0} / {Median(list, x => x.RetransmitsDown):0} |");
    }
    var q = results.Values.First();
    foreach (var (name, p) in results.Skip(1))
    {
        r.AppendLine(CultureInfo.InvariantCulture,
            $"| **{name} / QEMU** | **{Median(p, x => x.GuestToHostMbps) / Median(q, x => x.GuestToHostMbps):0.00}x** | **{Median(p, x => x.HostToGuestMbps) / Median(q, x => x.HostToGuestMbps):0.00}x** | " +
            $"{Median(p, x => x.PingMedianMs) / Median(q, x => x.PingMedianMs):0.00}x | | |");
    }
    r.AppendLine();
    r.AppendLine("Per round (Polynic / QEMU, each round's own pair):");
    r.AppendLine();
    foreach (var (name, p) in results.Skip(1))
    {
        var pairs = p.Zip(q).ToList();
        string Ratios(Func<Measurement, double> pick) => string.Join(" ", pairs.Select(x => (pick(x.First) / pick(x.Second)).ToString("0.00x", CultureInfo.InvariantCulture)));
        r.AppendLine($"- {name}: {there} {Ratios(x => x.GuestToHostMbps)}; {back} {Ratios(x => x.HostToGuestMbps)}; ping median {Ratios(x => x.PingMedianMs)}");
    }
    r.AppendLine();
    r.AppendLine("Rounds in full:");
    r.AppendLine();
    foreach (var (name, list) in results)
        for (int i = 0; i < list.Count; i++)
            r.AppendLine($"- {name}, round {i + 1}: {list[i]}{(list[i].Interrupts.Length > 0 ? "; interrupts " + list[i].Interrupts : "")}{(list[i].LossesDown.Length > 0 ? "; host->guest losses: " + list[i].LossesDown : "")}");
    return r.ToString();
}

static double Median(List<Measurement> list, Func<Measurement, double> pick)
{
    var values = list.Where(m => m.Failure is null).Select(pick).Where(v => !double.IsNaN(v)).Order().ToArray();
    return values.Length == 0 ? double.NaN : values[values.Length / 2];
}

static string Spread(List<Measurement> list, Func<Measurement, double> pick, string format)
{
    var ok = list.Where(m => m.Failure is null).ToList();
    if (ok.Count == 0) return "failed";
    string failed = ok.Count < list.Count ? $", {list.Count - ok.Count} failed" : "";
    return string.Create(CultureInfo.InvariantCulture,
        $"{Median(ok, pick).ToString(format, CultureInfo.InvariantCulture)} [{ok.Min(pick).ToString(format, CultureInfo.InvariantCulture)}-{ok.Max(pick).ToString(format, CultureInfo.InvariantCulture)}{failed}]");
}
