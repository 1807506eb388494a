using System.CommandLine;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Serving;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic serve</c>: serve devices over vfio-user until interrupted.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var devices = new Option<string[]>("--device", "-d")
        {
            Description = "A device to serve: KIND:SOCKET[,key=value...], e.g. diagnostic:/tmp/diag0.sock. Repeat for more devices.",
            Arity = ArgumentArity.OneOrMore,
            Required = true,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every client connection and protocol error in detail." };
        var command = new Command("serve", "Serve Polynic devices to VMMs over vfio-user (QEMU: -device vfio-user-pci,socket=...) until Ctrl-C.");
        command.Options.Add(devices);
        command.Options.Add(verbose);
        command.SetAction(async (parse, cancellationToken) =>
        {
            List<DeviceSpec> specs;
            try
            {
                specs = parse.GetValue(devices)!.Select(DeviceSpec.Parse).ToList();
            }
            catch (FormatException e)
            {
                Console.Error.WriteLine($"polynic serve: {e.Message}");
                return 2;
            }
            using var loggerFactory = Logging.Create(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            DeviceHost host;
            try
            {
                host = await DeviceHost.StartAsync(specs, loggerFactory, cancellationToken);
            }
            catch (Exception e) when (e is FormatException or IOException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"polynic serve: {e.Message}");
                return 1;
            }
            await using (host)
            {
                foreach (var s in host.Servers)
                    Console.WriteLine($"serving {s.Function.Name} ({s.Function.Definition.Identity}) on {s.SocketPath}");
                Console.WriteLine("ready; Ctrl-C stops");
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    Console.WriteLine("stopping");
                }
            }
            return 0;
        });
        return command;
    }
}
