using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Cli.Serving;
using Polynic.Fuzzing;
using Polynic.Fuzzing.Protocol;

namespace Polynic.Cli.Commands;

/// <summary>
/// <c>polynic fuzz protocol</c>: the vfio-user protocol fuzzer, against the server this command
/// starts in its own process (what <c>polynic serve</c> runs: one NIC per personality on one
/// switch, plus a sentinel NIC), or against running servers' sockets.
/// </summary>
internal static class FuzzProtocolCommand
{
    public static Command Create()
    {
        var personalities = new Option<string[]>("--personality", "-p")
        {
            Description = "A personality to serve and fuzz (repeat for more; default e1000, virtio-net and rtl8139).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var sockets = new Option<string[]>("--socket")
        {
            Description = "Fuzz the device behind this socket of a running server instead (repeat for more); no sentinel, no descriptor check.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var operations = FuzzCommand.OperationsOption();
        var seconds = FuzzCommand.SecondsOption();
        var seed = FuzzCommand.SeedOption();
        var modules = new Option<DirectoryInfo?>("--modules", "-m") { Description = "Modules directory (default: artifacts/modules)." };
        var corpus = new Option<DirectoryInfo?>("--corpus") { Description = "Write each failing session here as CORPUS/vfio-user/seed.txt (default: ./fuzz-corpus)." };

        var command = new Command("protocol", "Fuzz the vfio-user server over real sockets: mutated messages, hostile descriptors, DMA maps at the limits, unanswered DMA, disconnects; a sentinel client checks another NIC keeps answering.");
        foreach (var option in new Option[] { personalities, sockets, operations, seconds, seed, modules, corpus }) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            ProtocolFuzzOptions options;
            try
            {
                options = new ProtocolFuzzOptions
                {
                    Seed = FuzzCommand.Seed(parse.GetValue(seed)),
                    Budget = FuzzCommand.Budget(parse.GetValue(operations), parse.GetValue(seconds)),
                    CorpusDirectory = (parse.GetValue(corpus) ?? new DirectoryInfo("fuzz-corpus")).FullName,
                };
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"polynic fuzz protocol: {e.Message}");
                return 2;
            }

            FuzzReport report;
            if (parse.GetValue(sockets) is { Length: > 0 } external)
            {
                Console.WriteLine($"fuzzing {string.Join(", ", external)}: seed 0x{options.Seed:x16}, {options.Budget}");
                report = ProtocolFuzzer.Run(external, null, options, Progress, cancellationToken);
            }
            else
            {
                Polynic.Modules.ModuleCatalog catalog;
                try
                {
                    catalog = ModulesDirectory.Load(parse.GetValue(modules), TextWriter.Null);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"polynic fuzz protocol: {e.Message}");
                    return 1;
                }
                var names = parse.GetValue(personalities) is { Length: > 0 } given ? given : ["e1000", "virtio-net", "rtl8139"];
                ProtocolTarget target;
                try
                {
                    // The server's own warnings (each refused command) would bury the report; the
                    // report counts what matters.
                    target = await ProtocolTarget.StartAsync(catalog, names, NullLoggerFactory.Instance);
                }
                catch (InvalidOperationException e)
                {
                    Console.Error.WriteLine($"polynic fuzz protocol: cannot serve the targets: {e.Message}");
                    return 1;
                }
                await using (target)
                {
                    Console.WriteLine($"fuzzing the vfio-user server of {string.Join(", ", names)} (plus a sentinel e1000) in this process: seed 0x{options.Seed:x16}, {options.Budget}");
                    report = ProtocolFuzzer.Run(target.Sockets, target.SentinelSocket, options with { CheckDescriptorLeaks = true }, Progress, cancellationToken);
                }
            }
            Print(report);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    private static void Progress(FuzzReport report) =>
        Console.Error.WriteLine($"  {report.Operations:N0} messages, {report.ExecutionsPerSecond:N0}/s, {report.Runs:N0} sessions, {report.Failures.Count} failures");

    private static void Print(FuzzReport report)
    {
        string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        Console.WriteLine($"vfio-user    messages {N(report.Operations),13}  exec/s {N((long)report.ExecutionsPerSecond),9}  failures {report.Failures.Count}  hangs {report.Hangs}  " +
            $"({report.Elapsed.TotalSeconds:0.0} s, {N(report.Runs)} sessions)");
        Console.WriteLine("    " + string.Join(", ", report.Counters.Select(c => $"{c.Key} {N(c.Value)}")));
        foreach (var failure in report.Failures)
        {
            Console.WriteLine($"  FAILURE {failure}");
            Console.WriteLine($"    replay: polynic fuzz protocol --seed 0x{failure.Reproducer.Seed:x16} --operations {failure.Reproducer.Operations}");
        }
        Console.WriteLine(report.Passed ? "no failures" : $"{report.Failures.Count} failures");
    }
}
