namespace Polynic.Modules;

/// <summary>How a module reached the server.</summary>
public enum ModuleKind
{
    /// <summary>A compiled .NET assembly (<c>*.dll</c>).</summary>
    Compiled,

    /// <summary>A C# source file (<c>*.cs</c>) compiled by the server when loaded.</summary>
    Source,

    /// <summary>An XML personality descriptor (.xml), with or without a behaviour code file.</summary>
    Descriptor,
}

/// <summary>Where a module stands.</summary>
public enum ModuleState
{
    /// <summary>Loaded; its personalities can be created.</summary>
    Loaded,

    /// <summary>Passed <see cref="ModuleCatalog.Validate"/>: it would load, but it is not loaded.</summary>
    Valid,

    /// <summary>Refused before any of its code ran: not a module, or built for an SDK this server does not serve.</summary>
    Incompatible,

    /// <summary>Could not be loaded: a compile error, a missing dependency, a throwing factory, a name conflict.</summary>
    Failed,
}

/// <summary>One compiler message about a source module, with 1-based line and column.</summary>
/// <param name="File">The source file.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Severity"><c>error</c> or <c>warning</c>.</param>
/// <param name="Id">The compiler's diagnostic id, for example <c>CS1002</c>.</param>
/// <param name="Message">The compiler's message.</param>
public sealed record ModuleDiagnostic(string File, int Line, int Column, string Severity, string Id, string Message)
{
    /// <summary>Whether the diagnostic is an error (the module does not compile).</summary>
    public bool IsError => Severity == "error";

    /// <summary>The diagnostic as compilers print it: <c>file:line:column: severity id: message</c>.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: {Severity} {Id}: {Message}";
}

/// <summary>What the catalog knows about one module file.</summary>
/// <param name="Name">The module's name: its file name without extension; what <see cref="ModuleCatalog.Unload"/> takes.</param>
/// <param name="Kind">Compiled assembly or C# source.</param>
/// <param name="File">Full path of the module file.</param>
/// <param name="SdkVersion">The SDK version the module declares (<c>"1.1"</c>), or null if it declares none or could not be read.</param>
/// <param name="State">Loaded, valid, incompatible or failed.</param>
/// <param name="Reason">Why it is incompatible or failed, starting with the file; null when it loaded.</param>
/// <param name="Personalities">The personality names it provides (empty unless loaded or valid).</param>
/// <param name="Diagnostics">Compiler messages (source modules compiled in this call only).</param>
/// <param name="FromCache">For a source module: its compiled image came from the cache, the compiler did not run.</param>
public sealed record ModuleInfo(
    string Name,
    ModuleKind Kind,
    string File,
    string? SdkVersion,
    ModuleState State,
    string? Reason,
    IReadOnlyList<string> Personalities,
    IReadOnlyList<ModuleDiagnostic> Diagnostics,
    bool FromCache)
{
    /// <summary>
    /// The module whose personality this descriptor module reuses as its behaviour
    /// (<c>&lt;behaviour personality="..."/&gt;</c>); that module cannot be unloaded while this one is
    /// loaded. Null for every other module.
    /// </summary>
    public string? DependsOn { get; init; }

    /// <summary>One line for operators: name, kind, state, SDK version, personalities or reason.</summary>
    public override string ToString() => State is ModuleState.Loaded or ModuleState.Valid
        ? $"{Name} ({Kind.ToString().ToLowerInvariant()}, SDK {SdkVersion}) {State.ToString().ToLowerInvariant()}: {string.Join(", ", Personalities)}"
          + (DependsOn is null ? "" : $" (behaviour from module {DependsOn})")
        : $"{Name} ({Kind.ToString().ToLowerInvariant()}) {State.ToString().ToLowerInvariant()}: {Reason}";
}

/// <summary>A personality provided by a loaded module.</summary>
/// <param name="Name">The name configurations use.</param>
/// <param name="Description">The factory's one-line description.</param>
/// <param name="Module">The module providing it.</param>
public sealed record ModulePersonality(string Name, string Description, string Module);
