using System.CommandLine;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Demo;
using Polynic.Rig;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic demo</c>: the main job — a real guest driving a Polynic device, end to end.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var keep = new Option<bool>("--keep-logs") { Description = "Keep the guest's work directory (serial log) after the demo." };
        var command = new Command("demo",
            "Prepare the guest rig if needed, serve a Polynic diagnostic device over vfio-user, boot a Linux guest under QEMU against it, and show it working.");
        command.Options.Add(keep);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var loggerFactory = Logging.Create(LogLevel.Warning);
            try
            {
                var report = await DiagnosticTour.RunAsync(Console.Out, loggerFactory, parse.GetValue(keep), cancellationToken);
                return report.Passed ? 0 : 1;
            }
            catch (RigPrerequisiteException e)
            {
                Console.Error.WriteLine($"polynic demo: {e.Message}");
                return 2;
            }
            catch (Exception e) when (e is RigException or IOException)
            {
                Console.Error.WriteLine($"polynic demo failed: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
