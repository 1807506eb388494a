using System.CommandLine;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Demo;
using Polynic.Native;
using Polynic.Rig;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic demo</c>: the main job, end to end with real guests.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var scenario = new Argument<string>("scenario")
        {
            Description = "lan (default): two guests on a Polynic switch; diagnostic: one guest driving the diagnostic PCI function.",
            DefaultValueFactory = _ => "lan",
        };
        scenario.AcceptOnlyFromAmong("lan", "diagnostic");
        var captureDirectory = new Option<DirectoryInfo>("--capture-dir")
        {
            Description = "Where the lan demo writes its pcapng capture.",
            DefaultValueFactory = _ => new DirectoryInfo("/var/tmp/polynic"),
        };
        var dashboard = new Option<bool>("--dashboard")
        {
            Description = "lan: after the report, serve the web dashboard and HTTP API on a free loopback port (the URL with its token is printed) and keep traffic flowing between the guests until Ctrl-C.",
        };
        var command = new Command("demo",
            "Prepare the guest rig if needed, serve Polynic NICs over vfio-user, boot real Linux guests under QEMU against them, show traffic and counters, clean up.");
        command.Arguments.Add(scenario);
        command.Options.Add(captureDirectory);
        command.Options.Add(dashboard);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggerFactory = Logging.Create(LogLevel.Warning);
            try
            {
                return parse.GetValue(scenario) == "diagnostic"
                    ? (await DiagnosticTour.RunAsync(Console.Out, loggerFactory, false, cancellationToken)).Passed ? 0 : 1
                    : await LanDemo.RunAsync(Console.Out, loggerFactory, parse.GetValue(captureDirectory)!.FullName, parse.GetValue(dashboard), cancellationToken) ? 0 : 1;
            }
            catch (RigPrerequisiteException e)
            {
                Console.Error.WriteLine($"polynic demo: {e.Message}");
                return 2;
            }
            catch (UnsafePathException e)
            {
                Console.Error.WriteLine($"polynic demo: capture directory refused: {e.Message}. Remove it, or choose another with --capture-dir.");
                return 2;
            }
            catch (Exception e) when (e is RigException or IOException or OperationCanceledException)
            {
                Console.Error.WriteLine($"polynic demo failed: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
