using System.Text.Json;
using System.Text.Json.Nodes;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Polynic.Ports;
using Polynic.Ports.Faults;

namespace Polynic.Management.Control;

/// <summary>
/// The management operations of a running server — modules listed, loaded, unloaded and
/// validated; NICs listed, added and removed — independent of how they are asked for (the
/// control socket today, an HTTP API later). Every failure is an answer with a message, never
/// an exception that could reach the server.
/// </summary>
public sealed class ManagementService(ServerHost host)
{
    /// <summary>Runs one request.</summary>
    /// <param name="request">The command and its arguments (untrusted: from a socket).</param>
    /// <param name="cancellationToken">Cancels a NIC start.</param>
    public async Task<ControlResponse> ExecuteAsync(ControlRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            switch (request.Command)
            {
                case ControlCommands.ModulesList:
                    return Ok(host.Modules.List());
                case ControlCommands.ModulesLoad:
                {
                    var info = host.Modules.Load(RequirePath(request));
                    return info.State == ModuleState.Loaded ? Ok(info) : Refused(info);
                }
                case ControlCommands.ModulesValidate:
                {
                    var info = host.Modules.Validate(RequirePath(request));
                    return info.State == ModuleState.Valid ? Ok(info) : Refused(info);
                }
                case ControlCommands.ModulesUnload:
                    await host.UnloadModuleAsync(Require(request.Name, "name"));
                    return new ControlResponse(true);
                case ControlCommands.PersonalitiesList:
                    return Ok(host.Modules.Personalities());
                case ControlCommands.NicsList:
                    return Ok(host.Functions.Select(f => Status(f, f.FailureReason is null ? "serving" : "failed", f.FailureReason, f.Server.IsClientConnected))
                        .Concat(host.FailedNics.Select(f => new NicStatus(f.Name, f.Personality, null, null, null, "failed", f.Reason, false, false, null))));
                case ControlCommands.NicsAdd:
                {
                    var spec = Require(request.Spec, "spec");
                    var nic = DeviceSpec.Parse(spec, FreeIndex());
                    var served = await host.AddNicAsync(nic, cancellationToken);
                    return Ok(Status(served, "serving", null, false)) with { Warning = served.OffersMsix ? HotUnplug.MsixWarning : null };
                }
                case ControlCommands.NicsRemove:
                {
                    var name = Require(request.Name, "name");
                    var served = host.Functions.FirstOrDefault(f => f.Name == name);
                    bool abortsOnUnplug = served is { OffersMsix: true, Server.IsClientConnected: true };
                    await host.RemoveNicAsync(name);
                    return new ControlResponse(true, Warning: abortsOnUnplug ? HotUnplug.RemovedWhileAttachedWarning : null);
                }
                case ControlCommands.NicsFaults:
                    return Ok(SetFaults(Require(request.Name, "name"), Require(request.Spec, "spec")));
                default:
                    return new ControlResponse(false, $"unknown command '{request.Command}'; known: {string.Join(", ", ControlCommands.All)}");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException
                                      or NicStartException or IOException or UnauthorizedAccessException)
        {
            return new ControlResponse(false, e.Message);
        }
    }

    private static NicStatus Status(ServedFunction f, string state, string? reason, bool connected) =>
        new(f.Name, f.Personality, f.Module, f.Server.SocketPath, f.Port?.Name, state, reason, connected,
            f.OffersMsix, f.OffersMsix ? HotUnplug.MsixWarning : null);

    private FaultSettings SetFaults(string name, string spec)
    {
        var settings = FaultSpec.Parse(spec);
        var function = host.Functions.FirstOrDefault(f => f.Name == name) ?? throw new KeyNotFoundException($"no NIC named '{name}' is served");
        for (var port = function.Port; port is not null; port = (port as PortDecorator)?.Inner)
        {
            if (port is FaultInjectionPort faults)
            {
                faults.Settings = settings;
                return settings;
            }
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

    private static string RequirePath(ControlRequest request)
    {
        var path = Require(request.Path, "path");
        if (!System.IO.Path.IsPathRooted(path)) throw new ArgumentException($"path '{path}' must be absolute (the server's working directory is not the client's)");
        return path;
    }

    private static string Require(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw new ArgumentException($"the request needs a '{field}'") : value;

    private static ControlResponse Refused(ModuleInfo info) =>
        new(false, string.Join(Environment.NewLine, new[] { info.Reason ?? info.State.ToString() }.Concat(info.Diagnostics.Select(d => d.ToString()))),
            JsonSerializer.SerializeToNode(info, ControlJson.Options));

    private static ControlResponse Ok<T>(T result) => new(true, null, JsonSerializer.SerializeToNode(result, ControlJson.Options));
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
