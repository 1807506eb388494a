using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Polynic.Management.Control;

/// <summary>
/// One request on a control socket: a JSON object on one line. <c>command</c> is one of
/// <see cref="ControlCommands"/>; the other fields are its arguments.
/// </summary>
/// <param name="Command">What to do, for example <c>modules.load</c>.</param>
/// <param name="Path">A module file (modules.load, modules.validate).</param>
/// <param name="Name">A module or NIC name (modules.unload, nics.remove).</param>
/// <param name="Spec">A NIC specification (nics.add): <c>PERSONALITY:SOCKET[,mac=..][,tap=..][,name=..][,msix=off][,OPTION=VALUE..]</c>; or faults (nics.faults, see <see cref="Configuration.FaultSpec"/>).</param>
public sealed record ControlRequest(string Command, string? Path = null, string? Name = null, string? Spec = null);

/// <summary>
/// The answer to one request, one JSON line: <c>ok</c>, and either <c>result</c> or
/// <c>error</c> (a message naming the file or object and the problem).
/// </summary>
/// <param name="Ok">Whether the command did what was asked.</param>
/// <param name="Error">Why not, when <paramref name="Ok"/> is false.</param>
/// <param name="Result">The command's data (lists, the module entry), when it has any.</param>
/// <param name="Warning">Done, but with a consequence the user should know about (a card whose unplug aborts QEMU).</param>
/// <param name="Kind">What kind of failure, when <paramref name="Ok"/> is false.</param>
public sealed record ControlResponse(bool Ok, string? Error = null, JsonNode? Result = null, string? Warning = null, ManagementError? Kind = null);

/// <summary>The commands a control socket understands.</summary>
public static class ControlCommands
{
    /// <summary>Every module the server knows, loaded or failed, with personalities and reasons.</summary>
    public const string ModulesList = "modules.list";
    /// <summary>Load a module file (.dll, .cs or .xml descriptor) into the running server.</summary>
    public const string ModulesLoad = "modules.load";
    /// <summary>Unload a module no served NIC uses.</summary>
    public const string ModulesUnload = "modules.unload";
    /// <summary>Check a module file without keeping it.</summary>
    public const string ModulesValidate = "modules.validate";
    /// <summary>The personalities of the loaded modules.</summary>
    public const string PersonalitiesList = "personalities.list";
    /// <summary>Served NICs and NICs that failed to start, with their state.</summary>
    public const string NicsList = "nics.list";
    /// <summary>Create and serve a NIC from a specification.</summary>
    public const string NicsAdd = "nics.add";
    /// <summary>Stop serving a NIC.</summary>
    public const string NicsRemove = "nics.remove";
    /// <summary>Replace the injected faults (loss, corruption, delay, link down) of a NIC configured with <c>faults</c>.</summary>
    public const string NicsFaults = "nics.faults";
    /// <summary>One NIC in full: identity, VMM, interrupts, DMA, link, counters.</summary>
    public const string NicsDetail = "nics.detail";
    /// <summary>Plug a NIC's cable in ("up") or pull it out ("down"); the spec carries which.</summary>
    public const string NicsLink = "nics.link";

    /// <summary>All commands, for help and error messages.</summary>
    public static readonly IReadOnlyList<string> All =
        [ModulesList, ModulesLoad, ModulesUnload, ModulesValidate, PersonalitiesList, NicsList, NicsAdd, NicsRemove, NicsFaults, NicsDetail, NicsLink];
}

/// <summary>The JSON conventions of the control protocol (camelCase, enums as strings, no nulls).</summary>
public static class ControlJson
{
    /// <summary>Serializer options shared by server and client.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        MaxDepth = 16,
    };

    /// <summary>Longest request line the server reads (bytes); a longer one is refused and the connection closed.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>What ends every request and response.</summary>
    internal static readonly ReadOnlyMemory<byte> LineEnd = "\n"u8.ToArray();
}
