using System.CommandLine;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Serving;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic serve</c>: serve devices over vfio-user until interrupted.</summary>
internal static class ServeCommand
{
    /// <summary>artifacts/modules next to the CLI's own artifacts/cli, where ./polynic builds the module personalities.</summary>
    private static DirectoryInfo? DefaultModules()
    {
        var directory = new DirectoryInfo(Path.Combine(AppContext.BaseDirectory, "..", "modules"));
        return directory.Exists ? directory : null;
    }

    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "Server configuration (XML, schema: schemas/polynic-config.xsd)." };
        var devices = new Option<string[]>("--device", "-d")
        {
            Description = "A device to serve without a configuration file: PERSONALITY:SOCKET[,mac=..][,tap=IFNAME][,name=..]. Repeat for more.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log at debug level." };
        var modules = new Option<DirectoryInfo?>("--modules", "-m")
        {
            Description = "Load personality modules (compiled .dll or C# source .cs) from this directory at start (default: the modules ./polynic builds, artifacts/modules).",
            DefaultValueFactory = _ => DefaultModules(),
        };
        var command = new Command("serve", "Serve Polynic NICs to VMMs over vfio-user (QEMU: -device vfio-user-pci,socket=...) until Ctrl-C.");
        command.Options.Add(config);
        command.Options.Add(devices);
        command.Options.Add(verbose);
        command.Options.Add(modules);
        command.SetAction(async (parse, cancellationToken) =>
        {
            PolynicConfiguration configuration;
            try
            {
                var file = parse.GetValue(config);
                var specs = parse.GetValue(devices) ?? [];
                if (file is null == (specs.Length == 0))
                    throw new FormatException("give either --config FILE or one or more --device specifications.");
                configuration = file is not null ? ConfigurationLoader.Load(file.FullName) : DeviceSpec.ToConfiguration(specs);
            }
            catch (Exception e) when (e is FormatException or ConfigurationException)
            {
                Console.Error.WriteLine($"polynic serve: {e.Message}");
                return 2;
            }
            using var loggerFactory = Logging.Create(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            ServerHost host;
            try
            {
                ModuleCatalog? catalog = null;
                if (parse.GetValue(modules) is { } directory)
                {
                    catalog = new ModuleCatalog(new ModuleCatalogOptions { ReservedPersonalities = PersonalityCatalog.Names.ToList() });
                    foreach (var module in catalog.LoadDirectory(directory.FullName))
                        Console.WriteLine(ModulesCommand.Describe(module));
                }
                host = await ServerHost.StartAsync(configuration, loggerFactory, cancellationToken, catalog);
            }
            catch (Exception e) when (e is IOException or ArgumentException or KeyNotFoundException or InvalidOperationException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"polynic serve: {e.Message}");
                return 1;
            }
            await using (host)
            {
                foreach (var f in host.Functions)
                    Console.WriteLine($"serving {f.Name} ({f.Personality}, {f.Function.Definition.Identity}) on {f.Server.SocketPath}{(f.Port is null ? "" : $", port {f.Port.Name}")}");
                if (host.CaptureFile is { } capture) Console.WriteLine($"capturing to {capture}");
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
