using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Serving;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Management.Control;
using Polynic.Management.Http;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic serve</c>: serve devices over vfio-user until interrupted.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "Server configuration (XML, schema: schemas/polynic-config.xsd)." };
        var devices = new Option<string[]>("--device", "-d")
        {
            Description = "A device to serve without a configuration file: PERSONALITY:SOCKET[,mac=..][,tap=IFNAME][,name=..][,msix=off][,OPTION=VALUE..]. Repeat for more.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log at debug level." };
        var modules = new Option<DirectoryInfo?>("--modules", "-m")
        {
            Description = "Load personality modules (compiled .dll, C# source .cs, XML descriptor .xml) from this directory at start (default: artifacts/modules, where ./polynic builds them).",
        };
        var control = new Option<FileInfo?>("--control")
        {
            Description = "Take management commands (polynic modules|nics ... --server PATH) on this Unix socket while serving.",
        };
        var busyPoll = new Option<int?>("--busy-poll-us")
        {
            Description = "Longest time, in microseconds, each vfio-user session polls for the VMM's next message before sleeping (0-1000; default 50, or the configuration's busyPollMicroseconds); each session shortens it while its VMM's messages come further apart. 0 saves CPU; a guest's register read then takes about twice as long (docs/benchmarks.md).",
        };
        var http = new Option<string?>("--http")
        {
            Description = "Serve the management API over HTTP on ADDRESS: 127.0.0.1:PORT, [::1]:PORT, localhost:PORT (0: a free port) or unix:/path. Off unless given. Every request needs the token (see --http-token-file); another machine's address needs --http-certificate or --http-insecure.",
        };
        var httpToken = new Option<FileInfo?>("--http-token-file")
        {
            Description = "The API's token: read from this file if it exists (it must be 0600), else created there. Default: a new token in the runtime directory (/run/polynic or $XDG_RUNTIME_DIR/polynic), removed at stop.",
        };
        var httpCertificate = new Option<FileInfo?>("--http-certificate") { Description = "Serve the API over HTTPS with this PEM file (certificate and private key)." };
        var httpInsecure = new Option<bool>("--http-insecure") { Description = "Allow plain HTTP on an address other machines can reach (the token then crosses the network in clear)." };
        var httpCaptures = new Option<DirectoryInfo?>("--http-capture-dir")
        {
            Description = "Where captures started through the API are written (created 0700; refused if another user could change it). Default /var/tmp/polynic/captures. The files stay after the server stops.",
        };
        var command = new Command("serve", "Serve Polynic NICs to VMMs over vfio-user (QEMU: -device vfio-user-pci,socket=...) until Ctrl-C.");
        command.Options.Add(config);
        command.Options.Add(devices);
        command.Options.Add(verbose);
        command.Options.Add(modules);
        command.Options.Add(control);
        command.Options.Add(busyPoll);
        command.Options.Add(http);
        command.Options.Add(httpToken);
        command.Options.Add(httpCertificate);
        command.Options.Add(httpInsecure);
        command.Options.Add(httpCaptures);
        command.SetAction(async (parse, cancellationToken) =>
        {
            PolynicConfiguration configuration;
            try
            {
                var file = parse.GetValue(config);
                var specs = parse.GetValue(devices) ?? [];
                if (file is not null && specs.Length > 0)
                    throw new FormatException("give either --config FILE or --device specifications, not both.");
                if (file is null && specs.Length == 0 && parse.GetValue(control) is null && parse.GetValue(http) is null)
                    throw new FormatException("give --config FILE, one or more --device specifications, or a --control socket or --http API to add NICs through later.");
                configuration = file is not null ? ConfigurationLoader.Load(file.FullName) : DeviceSpec.ToConfiguration(specs);
                if (parse.GetValue(busyPoll) is { } microseconds)
                {
                    if (microseconds is < 0 or > 1000) throw new FormatException($"--busy-poll-us {microseconds}: give 0 to 1000 microseconds.");
                    configuration = configuration with { BusyPoll = TimeSpan.FromMicroseconds(microseconds) };
                }
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
                var catalog = ModulesDirectory.Load(parse.GetValue(modules), Console.Out);
                host = await ServerHost.StartAsync(configuration, catalog, loggerFactory, cancellationToken);
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"polynic serve: {e.Message}");
                return 1;
            }
            await using (host)
            {
                foreach (var f in host.Functions)
                    Console.WriteLine($"serving {f.Name} ({f.Personality}, {f.Function.Definition.Identity}) on {f.Server.SocketPath}{(f.Port is null ? "" : $", port {f.Port.Name}")}");
                foreach (var f in host.FailedNics)
                    Console.Error.WriteLine($"polynic serve: not serving {f.Reason}");
                if (host.CaptureFile is { } capture) Console.WriteLine($"capturing to {capture}");
                ControlServer? controlServer = null;
                if (parse.GetValue(control) is { } controlPath)
                {
                    try
                    {
                        controlServer = new ControlServer(host, controlPath.FullName, loggerFactory);
                        controlServer.Start();
                    }
                    catch (IOException e)
                    {
                        Console.Error.WriteLine($"polynic serve: {e.Message}");
                        return 1;
                    }
                    Console.WriteLine($"control socket {controlServer.SocketPath}");
                }
                else if (host.Functions.Count == 0 && parse.GetValue(http) is null)
                {
                    Console.Error.WriteLine("polynic serve: no NIC could be started and there is no --control socket or --http API to add one; stopping.");
                    return 1;
                }
                HttpApiServer? httpServer = null;
                if (parse.GetValue(http) is { } address)
                {
                    try
                    {
                        httpServer = await HttpApiServer.StartAsync(host, new HttpApiOptions
                        {
                            Listen = address,
                            TokenFile = parse.GetValue(httpToken)?.FullName,
                            Certificate = parse.GetValue(httpCertificate)?.FullName,
                            Insecure = parse.GetValue(httpInsecure),
                            CaptureDirectory = parse.GetValue(httpCaptures)?.FullName ?? HttpApiOptions.DefaultCaptureDirectory,
                        }, loggerFactory, cancellationToken);
                    }
                    catch (Exception e) when (e is FormatException or ArgumentException or IOException)
                    {
                        Console.Error.WriteLine($"polynic serve: {e.Message}");
                        if (controlServer is not null) await controlServer.DisposeAsync();
                        return 1;
                    }
                    Console.WriteLine($"HTTP API {httpServer.Url} (token in {httpServer.TokenFile}; OpenAPI at {httpServer.Url}openapi/v1.json)");
                    // Carries the token, for the operator who started the server: a log that keeps stdout must be guarded like the token file.
                    if (httpServer.DashboardUrl is { } dashboard) Console.WriteLine($"dashboard: {dashboard}");
                }
                Console.WriteLine("ready; Ctrl-C stops");
                // SIGINT and SIGTERM both stop the server cleanly (sockets removed, taps deleted):
                // a service manager sends SIGTERM, and a shell's background job may have SIGINT ignored.
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                void OnSignal(PosixSignalContext context)
                {
                    context.Cancel = true;
                    // The command line library cancels on the same signal, so the server may already
                    // be stopping, and this handler (run on a thread of its own) may come after the
                    // source is disposed: a signal then has nothing left to do, and must not throw.
                    try { stop.Cancel(); }
                    catch (ObjectDisposedException) { }
                }
                using (PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal))
                using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal))
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        Console.WriteLine("stopping");
                    }
                }
                if (httpServer is not null) await httpServer.DisposeAsync();
                if (controlServer is not null) await controlServer.DisposeAsync();
            }
            return 0;
        });
        return command;
    }
}
