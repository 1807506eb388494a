using System.Text.Json;
using System.Text.Json.Nodes;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Polynic.Ports;
using Polynic.Ports.Faults;
using Polynic.Ports.Switching;

namespace Polynic.Management.Control;

/// <summary>
/// The management operations of a running server — modules listed, loaded, unloaded and
/// validated; NICs listed, added and removed — independent of how they are asked for (the
/// control socket today, an HTTP API later). Every failure is an answer with a message, never
/// an exception that could reach the server.
/// </summary>
public sealed class ManagementService(ServerHost host)
{
    /// <summary>Runs one control-socket request: the typed operations below, with every failure turned into an answer.</summary>
    /// <param name="request">The command and its arguments (untrusted: from a socket).</param>
    /// <param name="cancellationToken">Cancels a NIC start.</param>
    public async Task<ControlResponse> ExecuteAsync(ControlRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            switch (request.Command)
            {
                case ControlCommands.ModulesList:
                    return Ok(ListModules());
                case ControlCommands.ModulesLoad:
                    return Ok(LoadModule(Require(request.Path, "path")));
                case ControlCommands.ModulesValidate:
                    return Ok(ValidateModule(Require(request.Path, "path")));
                case ControlCommands.ModulesUnload:
                    await UnloadModuleAsync(Require(request.Name, "name"));
                    return new ControlResponse(true);
                case ControlCommands.PersonalitiesList:
                    return Ok(ListPersonalities());
                case ControlCommands.NicsList:
                    return Ok(ListNics());
                case ControlCommands.NicsAdd:
                {
                    var (nic, warning) = await AddNicAsync(Require(request.Spec, "spec"), cancellationToken);
                    return Ok(nic) with { Warning = warning };
                }
                case ControlCommands.NicsRemove:
                    return new ControlResponse(true, Warning: await RemoveNicAsync(Require(request.Name, "name")));
                case ControlCommands.NicsFaults:
                    return Ok(SetFaults(Require(request.Name, "name"), Require(request.Spec, "spec")));
                case ControlCommands.NicsDetail:
                    return Ok(GetNicDetail(Require(request.Name, "name")));
                case ControlCommands.NicsLink:
                    return Ok(SetLink(Require(request.Name, "name"), Require(request.Spec, "spec").ToLowerInvariant() switch
                    {
                        "up" => true,
                        "down" => false,
                        var other => throw new ArgumentException($"link '{other}': say up or down"),
                    }));
                default:
                    return new ControlResponse(false, $"unknown command '{request.Command}'; known: {string.Join(", ", ControlCommands.All)}", Kind: ManagementError.Invalid);
            }
        }
        catch (ModuleRefusedException e)
        {
            return new ControlResponse(false, e.Message, JsonSerializer.SerializeToNode(e.Module, ControlJson.Options), Kind: ManagementError.Refused);
        }
        catch (Exception e) when (Classify(e) is { } kind)
        {
            return new ControlResponse(false, e.Message, Kind: kind);
        }
    }

    /// <summary>
    /// What kind of failure <paramref name="e"/> is when it comes out of an operation of this
    /// service; null for an exception that is a bug, not an answer.
    /// </summary>
    public static ManagementError? Classify(Exception e) => e switch
    {
        KeyNotFoundException => ManagementError.NotFound,
        ModuleRefusedException or NicStartException or IOException or UnauthorizedAccessException => ManagementError.Refused,
        ArgumentException or FormatException => ManagementError.Invalid,
        InvalidOperationException => ManagementError.Conflict,
        _ => null,
    };

    /// <summary>Every module the server knows, loaded or failed.</summary>
    public IReadOnlyList<ModuleInfo> ListModules() => host.Modules.List();

    /// <summary>Loads a module file into the running server; <see cref="ModuleRefusedException"/> with the diagnostics when it does not load.</summary>
    /// <param name="path">Absolute path on the server (the server's working directory is not the client's).</param>
    public ModuleInfo LoadModule(string path)
    {
        var info = host.Modules.Load(Absolute(path));
        if (info.State != ModuleState.Loaded) throw new ModuleRefusedException(info);
        host.Events.Publish(new ServerEvent(ServerEventTypes.ModuleLoaded, DateTimeOffset.UtcNow, Module: info.Name));
        return info;
    }

    /// <summary>Checks a module file without keeping it; <see cref="ModuleRefusedException"/> when it is not valid.</summary>
    public ModuleInfo ValidateModule(string path)
    {
        var info = host.Modules.Validate(Absolute(path));
        return info.State == ModuleState.Valid ? info : throw new ModuleRefusedException(info);
    }

    /// <summary>Unloads a module no served NIC uses.</summary>
    public Task UnloadModuleAsync(string name) => host.UnloadModuleAsync(name);

    /// <summary>The personalities of the loaded modules.</summary>
    public IReadOnlyList<ModulePersonality> ListPersonalities() => host.Modules.Personalities();

    /// <summary>Served NICs and NICs that failed to start.</summary>
    public IReadOnlyList<NicStatus> ListNics() =>
        host.Functions.Select(f => Status(f, f.FailureReason is null ? "serving" : "failed", f.FailureReason, f.Server.IsClientConnected))
            .Concat(host.FailedNics.Select(f => new NicStatus(f.Name, f.Personality, null, null, null, "failed", f.Reason, false, false, null)))
            .ToList();

    /// <summary>One NIC by name.</summary>
    public NicStatus GetNic(string name) =>
        ListNics().FirstOrDefault(n => n.Name == name) ?? throw new KeyNotFoundException($"no NIC named '{name}'");

    /// <summary>One served NIC in full: PCI identity, VMM, interrupts, DMA, link, counters of the NIC and of every port layer.</summary>
    public NicDetail GetNicDetail(string name) => Detail(Served(name));

    /// <summary>Plugs a NIC's cable in or pulls it out (<see cref="Core.Nic.NicDevice.SetCableConnected"/>); the guest sees its link follow.</summary>
    public NicDetail SetLink(string name, bool up)
    {
        var served = Served(name);
        var nic = served.Nic ?? throw new InvalidOperationException($"'{name}' is not a NIC and has no link");
        nic.SetCableConnected(up);
        return Detail(served);
    }

    /// <summary>The switches, their ports with VLANs and counters, and their MAC tables.</summary>
    public IReadOnlyList<SwitchInfo> ListSwitches() =>
        host.Switches.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new SwitchInfo(
            s.Name,
            s.Ports.Select(p => new SwitchPortInfo(p.Name,
                p.Options.Mode == SwitchPortMode.Trunk ? "trunk" : "access",
                p.Options.Mode == SwitchPortMode.Trunk ? p.Options.NativeVlan : p.Options.AccessVlan,
                p.Options.Mode == SwitchPortMode.Trunk ? p.Options.AllowedVlans?.Order().ToArray() : null,
                p.LinkUp,
                PortStack.Layers(p)[0].Counters)).ToList(),
            s.GetMacTable().Select(e => new MacTableRow(e.Address.ToString(), e.Vlan, e.Port.Name, Math.Round(e.Age.TotalSeconds, 1))).ToList(),
            new Dictionary<string, long>
            {
                ["learned"] = s.Counters.Learned,
                ["moved"] = s.Counters.Moved,
                ["aged"] = s.Counters.Aged,
                ["evicted"] = s.Counters.Evicted,
                ["flooded"] = s.Counters.Flooded,
                ["filtered"] = s.Counters.Filtered,
            })).ToList();

    private ServedFunction Served(string name) =>
        host.Functions.FirstOrDefault(f => f.Name == name)
        ?? throw new KeyNotFoundException(host.FailedNics.Any(f => f.Name == name) ? $"NIC '{name}' failed to start and is not served" : $"no NIC named '{name}' is served");

    private static NicDetail Detail(ServedFunction f)
    {
        var status = Status(f, f.FailureReason is null ? "serving" : "failed", f.FailureReason, f.Server.IsClientConnected);
        var client = f.Server.Client;
        var identity = f.Function.Definition.Identity;
        var router = f.Function.Interrupts;
        var nic = f.Nic;
        var layers = f.Port is null ? [] : PortStack.Layers(f.Port);
        return new NicDetail(f.Name, f.Personality, f.Module, f.Server.SocketPath, status.Port, status.State, status.Reason,
            client is not null, client?.ConnectedAt, status.Msix, status.HotUnplug, nic?.Settings.Mac.ToString(),
            new PciInfo($"{identity.VendorId:x4}", $"{identity.DeviceId:x4}", $"{identity.SubsystemVendorId:x4}", $"{identity.SubsystemId:x4}",
                $"{identity.ClassCode:x6}", $"{identity.Revision:x2}"),
            new InterruptInfo(router.Mode.ToString().ToLowerInvariant(), router.EnabledVectors, router.DroppedCount),
            client?.DmaRegions ?? 0, client?.MappedDmaRegions ?? 0, client?.DmaBytes ?? 0,
            new LinkInfo(nic?.PortCarrier ?? false, nic?.CableConnected ?? false, nic?.PortLinkUp ?? false),
            nic is null ? new Dictionary<string, long>() : nic.Counters.Snapshot().ToDictionary(c => c.Key, c => c.Value),
            layers.Count > 0 ? layers[^1].Counters : null,
            layers,
            f.Captures?.AttachedCount ?? 0);
    }

    /// <summary>Creates and serves a NIC from a specification; the warning says when its unplug would abort QEMU.</summary>
    /// <param name="spec"><c>PERSONALITY:SOCKET[,mac=..][,tap=..][,name=..][,msix=off][,OPTION=VALUE..]</c> (untrusted).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public async Task<(NicStatus Nic, string? Warning)> AddNicAsync(string spec, CancellationToken cancellationToken = default)
    {
        var nic = DeviceSpec.Parse(spec, FreeIndex());
        var served = await host.AddNicAsync(nic, cancellationToken);
        return (Status(served, "serving", null, false), served.OffersMsix ? HotUnplug.MsixWarning : null);
    }

    /// <summary>Stops serving a NIC; the warning says when a connected QEMU will abort on the unplug.</summary>
    public async Task<string?> RemoveNicAsync(string name)
    {
        var served = host.Functions.FirstOrDefault(f => f.Name == name);
        bool abortsOnUnplug = served is { OffersMsix: true, Server.IsClientConnected: true };
        await host.RemoveNicAsync(name);
        return abortsOnUnplug ? HotUnplug.RemovedWhileAttachedWarning : null;
    }

    private static NicStatus Status(ServedFunction f, string state, string? reason, bool connected) =>
        new(f.Name, f.Personality, f.Module, f.Server.SocketPath, f.Port?.Name, state, reason, connected,
            f.OffersMsix, f.OffersMsix ? HotUnplug.MsixWarning : null);

    /// <summary>Replaces the injected faults of a NIC configured with fault injection on its port.</summary>
    /// <param name="name">The NIC.</param>
    /// <param name="spec">The faults (see <see cref="FaultSpec"/>; untrusted).</param>
    public FaultSettings SetFaults(string name, string spec)
    {
        var settings = FaultSpec.Parse(spec);
        var function = Served(name);
        if (PortStack.Walk(function.Port).OfType<FaultInjectionPort>().FirstOrDefault() is { } faults)
        {
            faults.Settings = settings;
            return settings;
        }
        throw new InvalidOperationException($"NIC '{name}' has no fault injection on its port (give it a <faults/> element in the configuration)");
    }

    private int FreeIndex()
    {
        // Default MACs are 52:54:00:00:00:NN by index; pick the first index no NIC uses.
        var used = host.Functions.Select(f => f.Nic?.Settings.Mac).ToHashSet();
        int index = host.Functions.Count;
        while (used.Contains(Core.Nic.NicSettings.ForIndex(index).Mac)) index++;
        return index;
    }

    private static string Absolute(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("the request needs a 'path'");
        if (!System.IO.Path.IsPathRooted(path)) throw new ArgumentException($"path '{path}' must be absolute (the server's working directory is not the client's)");
        return path;
    }

    private static string Require(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw new ArgumentException($"the request needs a '{field}'") : value;

    private static ControlResponse Ok<T>(T result) => new(true, null, JsonSerializer.SerializeToNode(result, ControlJson.Options));
}

/// <summary>What kind of failure a management operation met, so each front end can say it in its own terms (an HTTP status, an exit code).</summary>
public enum ManagementError
{
    /// <summary>The request is malformed or names an impossible value.</summary>
    Invalid,
    /// <summary>The module, NIC or personality named does not exist.</summary>
    NotFound,
    /// <summary>The request conflicts with the server's state (a module still in use, already loaded).</summary>
    Conflict,
    /// <summary>Well-formed, but refused: a module that does not load, a NIC that cannot start, a file that cannot be read.</summary>
    Refused,
}

/// <summary>A module file that did not load or validate; <see cref="Module"/> has the state, reason and diagnostics.</summary>
public sealed class ModuleRefusedException(ModuleInfo module)
    : Exception(string.Join(Environment.NewLine, new[] { module.Reason ?? module.State.ToString() }.Concat(module.Diagnostics.Select(d => d.ToString()))))
{
    /// <summary>The catalog's entry for the refused file.</summary>
    public ModuleInfo Module { get; } = module;
}

/// <summary>A NIC as the control protocol reports it.</summary>
/// <param name="Name">The NIC's name.</param>
/// <param name="Personality">The personality it was created from.</param>
/// <param name="Module">The module that provides the personality; null if the NIC never started.</param>
/// <param name="Socket">Its vfio-user socket.</param>
/// <param name="Port">Where its frames go.</param>
/// <param name="State">"serving" or "failed".</param>
/// <param name="Reason">Why it failed.</param>
/// <param name="Connected">Whether a VMM is connected.</param>
/// <param name="Msix">Whether the guest is offered MSI-X.</param>
/// <param name="HotUnplug">Null when the card can be hot-unplugged safely; otherwise what goes wrong and what to do.</param>
public sealed record NicStatus(string Name, string Personality, string? Module, string? Socket, string? Port, string State, string? Reason, bool Connected,
    bool Msix, string? HotUnplug);
