using System.CommandLine;
using System.Text.Json;
using Polynic.Cli.Serving;
using Polynic.Management.Control;
using Polynic.Modules;

namespace Polynic.Cli.Commands;

/// <summary>
/// <c>polynic modules ...</c> and <c>polynic nics ...</c>: personality modules and NICs of a
/// running server (through its <c>--control</c> socket), or of a modules directory inspected
/// offline.
/// </summary>
internal static class ModulesCommand
{
    private static Option<FileInfo?> ServerOption(bool required) => new("--server", "-s")
    {
        Description = "The control socket of a running 'polynic serve --control PATH'.",
        Required = required,
    };

    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo?>("directory")
        {
            Description = "Without --server: a modules directory (*.dll, *.cs, *.xml, or name/name.dll) to load into a throwaway catalog.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var listServer = ServerOption(false);
        var list = new Command("list", "List modules, their personalities and problems: of a running server (--server) or of a directory.");
        list.Arguments.Add(directory);
        list.Options.Add(listServer);
        list.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(listServer) is { } server)
                return await SendAsync(server, new ControlRequest(ControlCommands.ModulesList), ct);
            var folder = parse.GetValue(directory) ?? ModulesDirectory.Default();
            if (folder is null)
            {
                Console.Error.WriteLine("polynic modules list: give a directory or --server");
                return 2;
            }
            var catalog = new ModuleCatalog();
            var modules = catalog.LoadDirectory(folder.FullName);
            foreach (var m in modules) Console.WriteLine(ModulesDirectory.Describe(m));
            foreach (var p in catalog.Personalities()) Console.WriteLine($"  personality {p.Name} ({p.Module}): {p.Description}");
            return modules.All(m => m.State == ModuleState.Loaded) ? 0 : 1;
        });

        var file = new Argument<FileInfo>("file") { Description = "A compiled module (.dll), a C# source module (.cs) or an XML personality descriptor (.xml)." };
        var validateServer = ServerOption(false);
        var validateModules = new Option<DirectoryInfo?>("--modules", "-m")
        {
            Description = "Without --server: load this modules directory first, for a descriptor whose <behaviour personality=\"...\"/> one of them provides.",
        };
        var validate = new Command("validate", "Check one module without keeping it: SDK version, load, factories, compiler and schema errors.");
        validate.Arguments.Add(file);
        validate.Options.Add(validateServer);
        validate.Options.Add(validateModules);
        validate.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!.FullName;
            if (parse.GetValue(validateServer) is { } server)
                return await SendAsync(server, new ControlRequest(ControlCommands.ModulesValidate, Path: path), ct);
            var catalog = new ModuleCatalog();
            if (parse.GetValue(validateModules) is { } modulesDirectory)
            {
                // Everything but the module under test (and descriptors, which provide no behaviour to reuse).
                foreach (var other in ModuleCatalog.Discover(modulesDirectory.FullName))
                {
                    if (other == path || other.EndsWith(".xml", StringComparison.OrdinalIgnoreCase)) continue;
                    try { catalog.Load(other); }
                    catch (InvalidOperationException) { } // a second file of one module name: the first keeps it
                }
            }
            var info = catalog.Validate(path);
            Console.WriteLine(ModulesDirectory.Describe(info));
            return info.State == ModuleState.Valid ? 0 : 1;
        });

        var loadServer = ServerOption(true);
        var load = new Command("load", "Load a module into a running server; its personalities can then be used by 'polynic nics add'.");
        load.Arguments.Add(file);
        load.Options.Add(loadServer);
        load.SetAction((parse, ct) => SendAsync(parse.GetValue(loadServer)!, new ControlRequest(ControlCommands.ModulesLoad, Path: parse.GetValue(file)!.FullName), ct));

        var name = new Argument<string>("name") { Description = "The module's name (its file name without extension)." };
        var unloadServer = ServerOption(true);
        var unload = new Command("unload", "Unload a module from a running server (refused while NICs created from it are served).");
        unload.Arguments.Add(name);
        unload.Options.Add(unloadServer);
        unload.SetAction((parse, ct) => SendAsync(parse.GetValue(unloadServer)!, new ControlRequest(ControlCommands.ModulesUnload, Name: parse.GetValue(name)), ct));

        var command = new Command("modules", "Personality modules loaded at run time: compiled assemblies, C# source compiled on load, XML descriptors.");
        command.Subcommands.Add(list);
        command.Subcommands.Add(validate);
        command.Subcommands.Add(load);
        command.Subcommands.Add(unload);
        return command;
    }

    public static Command CreateNics()
    {
        var listServer = ServerOption(true);
        var list = new Command("list", "NICs a running server serves, and those that failed, with their state.");
        list.Options.Add(listServer);
        list.SetAction((parse, ct) => SendAsync(parse.GetValue(listServer)!, new ControlRequest(ControlCommands.NicsList), ct));

        var spec = new Argument<string>("spec") { Description = "PERSONALITY:SOCKET[,mac=..][,PORT][,name=NIC][,msix=off][,OPTION=VALUE...] with PORT tap=IFNAME, switch=NAME[,vlan=N|,trunk=N+M], stream=ADDR, stream-server=ADDR, dgram=LOCAL>REMOTE or unplugged; e.g. rtl8139:/run/polynic/nic1.sock,tap=pn1,revision=0x20" };
        var addServer = ServerOption(true);
        var add = new Command("add", "Create a NIC from a loaded personality and serve it on a new vfio-user socket (then QMP device_add vfio-user-pci,socket=...).");
        add.Arguments.Add(spec);
        add.Options.Add(addServer);
        add.SetAction((parse, ct) => SendAsync(parse.GetValue(addServer)!, new ControlRequest(ControlCommands.NicsAdd, Spec: parse.GetValue(spec)), ct));

        var name = new Argument<string>("name") { Description = "The NIC's name." };
        var removeServer = ServerOption(true);
        var remove = new Command("remove", "Stop serving a NIC (detach it from the VM first: QMP device_del; QEMU 10.2-11.1 abort on that for a card with MSI-X, see nics add ... msix=off).");
        remove.Arguments.Add(name);
        remove.Options.Add(removeServer);
        remove.SetAction((parse, ct) => SendAsync(parse.GetValue(removeServer)!, new ControlRequest(ControlCommands.NicsRemove, Name: parse.GetValue(name)), ct));

        var faultsName = new Argument<string>("name") { Description = "The NIC's name." };
        var faultsSpec = new Argument<string>("faults") { Description = "drop=P,corrupt=P,delayMs=N,jitterMs=N,linkDown=true|false,direction=both|in|out (keys left out are zero), or none." };
        var faultsServer = ServerOption(true);
        var faults = new Command("faults", "Replace the faults injected on a NIC's port (the NIC needs a <faults/> element in the configuration); linkDown=true pulls the cable.");
        faults.Arguments.Add(faultsName);
        faults.Arguments.Add(faultsSpec);
        faults.Options.Add(faultsServer);
        faults.SetAction((parse, ct) => SendAsync(parse.GetValue(faultsServer)!,
            new ControlRequest(ControlCommands.NicsFaults, Name: parse.GetValue(faultsName), Spec: parse.GetValue(faultsSpec)), ct));

        var detailName = new Argument<string>("name") { Description = "The NIC's name." };
        var detailServer = ServerOption(true);
        var detail = new Command("detail", "One NIC in full: PCI identity, VMM connection, interrupt mode, DMA regions, link, counters of the NIC and its port.");
        detail.Arguments.Add(detailName);
        detail.Options.Add(detailServer);
        detail.SetAction((parse, ct) => SendAsync(parse.GetValue(detailServer)!, new ControlRequest(ControlCommands.NicsDetail, Name: parse.GetValue(detailName)), ct));

        var linkName = new Argument<string>("name") { Description = "The NIC's name." };
        var linkState = new Argument<string>("state") { Description = "up (cable in) or down (cable out)." };
        linkState.AcceptOnlyFromAmong("up", "down");
        var linkServer = ServerOption(true);
        var link = new Command("link", "Plug a NIC's cable in or pull it out: its guest sees the link go up or down (any NIC; no fault injection needed).");
        link.Arguments.Add(linkName);
        link.Arguments.Add(linkState);
        link.Options.Add(linkServer);
        link.SetAction((parse, ct) => SendAsync(parse.GetValue(linkServer)!,
            new ControlRequest(ControlCommands.NicsLink, Name: parse.GetValue(linkName), Spec: parse.GetValue(linkState)), ct));

        var command = new Command("nics", "NICs of a running server: list, add, remove, detail, link, faults.");
        command.Subcommands.Add(detail);
        command.Subcommands.Add(link);
        command.Subcommands.Add(list);
        command.Subcommands.Add(add);
        command.Subcommands.Add(remove);
        command.Subcommands.Add(faults);
        return command;
    }

    /// <summary>Sends one request; prints the result as indented JSON, or the error to stderr (exit 1).</summary>
    private static async Task<int> SendAsync(FileInfo server, ControlRequest request, CancellationToken cancellationToken)
    {
        ControlResponse response;
        try
        {
            response = await ControlClient.SendAsync(server.FullName, request, cancellationToken);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"polynic: {e.Message}");
            return 1;
        }
        if (response.Result is { } result)
            Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (response.Warning is { } warning) Console.Error.WriteLine($"polynic: warning: {warning}");
        if (response.Ok) return 0;
        Console.Error.WriteLine($"polynic: {request.Command} refused: {response.Error}");
        return 1;
    }
}
