using Microsoft.Extensions.Logging;
using Polynic.Core.Modules;
using Polynic.Core.Pci;

namespace Polynic.Modules;

/// <summary>
/// The personality modules a server has loaded at run time: compiled assemblies and C# source
/// files, each in its own collectible load context, so a personality can be added, replaced or
/// removed without rebuilding or restarting the server.
/// </summary>
/// <remarks>
/// <para>Thread-safe: loads, unloads and lookups may come from any thread.</para>
/// <para>A module that cannot be loaded is kept in <see cref="List"/> with its reason, so an
/// operator sees why; it provides no personality. Other modules are unaffected.</para>
/// <para>Unloading drops the catalog's references; the module's code is collected once the
/// devices created from it are released too.</para>
/// </remarks>
public sealed class ModuleCatalog
{
    private readonly object _gate = new();
    private readonly ModuleLoader _loader;
    private readonly HashSet<string> _reserved;
    private readonly ILogger? _log;
    private readonly Dictionary<string, LoadedModule> _loaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModuleInfo> _rejected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (IPersonalityFactory Factory, string Module)> _personalities = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates an empty catalog.</summary>
    /// <param name="options">Cache directory, reserved names and log; defaults when null.</param>
    public ModuleCatalog(ModuleCatalogOptions? options = null)
    {
        options ??= new ModuleCatalogOptions();
        _loader = new ModuleLoader(new SourceModuleCompiler(options.CacheDirectory, options.Log), Provided);
        _reserved = new HashSet<string>(options.ReservedPersonalities, StringComparer.OrdinalIgnoreCase);
        _log = options.Log;
    }

    /// <summary>The compiler of source modules (its cache directory and how often it ran).</summary>
    public SourceModuleCompiler Compiler => _loader.Compiler;

    /// <summary>
    /// Loads every module in <paramref name="directory"/>: each <c>*.xml</c> personality descriptor
    /// (other XML, such as a module's documentation file, is ignored), <c>*.dll</c>
    /// and <c>*.cs</c> at its top level (a <c>.dll</c> or <c>.cs</c> that shares its base name with
    /// a descriptor is that descriptor's behaviour, not a module of its own), and for each
    /// subfolder <c>name/</c> the file <c>name/name.xml</c>, else <c>name/name.dll</c>, else
    /// <c>name/name.cs</c>; private dependencies and behaviour code sit beside it. Compiled and
    /// source modules are loaded before descriptors, so that a descriptor may reuse the behaviour
    /// of a personality one of them provides (<c>&lt;behaviour personality="..."/&gt;</c>).
    /// </summary>
    /// <param name="directory">The modules directory.</param>
    /// <returns>One entry per module file found, in file-name order, loaded or not.</returns>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public IReadOnlyList<ModuleInfo> LoadDirectory(string directory)
    {
        var results = new List<ModuleInfo>();
        var files = Discover(directory);
        // Stable: file-name order within each group; the answer is put back in file-name order.
        var order = files.Select((file, index) => (file, index))
            .OrderBy(f => ModuleLoader.KindOf(f.file) == ModuleKind.Descriptor ? 1 : 0)
            .ThenBy(f => f.index)
            .Select(f => f.file);
        foreach (var file in order)
        {
            try
            {
                results.Add(Load(file));
            }
            catch (InvalidOperationException e)
            {
                // Two files with one module name (foo.dll beside foo.cs): the first keeps it.
                results.Add(new ModuleInfo(ModuleLoader.ModuleName(file), ModuleLoader.KindOf(file), file, null, ModuleState.Failed, $"{file}: {e.Message}", [], [], false));
            }
        }
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++) rank.TryAdd(files[i], i);
        return results.OrderBy(r => rank.GetValueOrDefault(r.File, int.MaxValue)).ToArray();
    }

    /// <summary>The module files <see cref="LoadDirectory"/> would load, in the order it loads them.</summary>
    /// <param name="directory">The modules directory.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static IReadOnlyList<string> Discover(string directory)
    {
        var files = new List<string>();
        static bool Is(string file, string extension) => file.EndsWith(extension, StringComparison.OrdinalIgnoreCase);
        static bool IsDescriptor(string file) => Is(file, ModuleLoader.DescriptorExtension) && ModuleLoader.IsDescriptorCandidate(file);

        var top = Directory.EnumerateFiles(directory).Select(Path.GetFullPath).ToArray();
        var described = top.Where(IsDescriptor).Select(ModuleLoader.ModuleName).ToHashSet(StringComparer.Ordinal);
        foreach (var file in top)
        {
            if (IsDescriptor(file)
                || ((Is(file, ModuleLoader.CompiledExtension) || Is(file, ModuleLoader.SourceExtension))
                    && !described.Contains(ModuleLoader.ModuleName(file))))
                files.Add(file);
        }
        foreach (var folder in Directory.EnumerateDirectories(directory))
        {
            string name = Path.GetFileName(folder);
            string descriptor = Path.Combine(folder, name + ModuleLoader.DescriptorExtension);
            string? candidate = File.Exists(descriptor) && IsDescriptor(descriptor) ? descriptor
                : new[] { ModuleLoader.CompiledExtension, ModuleLoader.SourceExtension }
                    .Select(extension => Path.Combine(folder, name + extension))
                    .FirstOrDefault(File.Exists);
            if (candidate is not null) files.Add(Path.GetFullPath(candidate));
        }
        return files.OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Loads the module in <paramref name="path"/> (a <c>.dll</c>, <c>.cs</c> or <c>.xml</c> file) into its
    /// own load context and makes its personalities available.
    /// </summary>
    /// <param name="path">The module file; its name without extension is the module's name.</param>
    /// <returns>
    /// The module's entry: <see cref="ModuleState.Loaded"/>, or <see cref="ModuleState.Incompatible"/> /
    /// <see cref="ModuleState.Failed"/> with a reason naming the file. Problems of the module are
    /// reported here, not thrown.
    /// </returns>
    /// <exception cref="InvalidOperationException">A module of the same name is loaded; unload it first.</exception>
    public ModuleInfo Load(string path)
    {
        string name = ModuleLoader.ModuleName(path);
        lock (_gate)
        {
            if (_loaded.TryGetValue(name, out var existing))
                throw new InvalidOperationException($"module '{name}' is already loaded from {existing.Info.File}; unload it first");

            var (module, info) = _loader.Load(path);
            if (module is not null && Conflict(module.Factories, name) is { } conflict)
            {
                module.Context.Unload();
                module = null;
                info = info with { State = ModuleState.Failed, Reason = $"{info.File}: {conflict}", Personalities = [] };
            }
            if (module is null)
            {
                _rejected[name] = info;
                _log?.LogWarning("Module {Module} not loaded: {Reason}", name, info.Reason);
                return info;
            }
            _rejected.Remove(name);
            _loaded[name] = module;
            foreach (var factory in module.Factories) _personalities[factory.Name] = (factory, name);
            _log?.LogInformation("Module {Module} loaded from {File} (SDK {Sdk}): {Personalities}",
                name, info.File, info.SdkVersion, string.Join(", ", info.Personalities));
            return info;
        }
    }

    /// <summary>
    /// Removes module <paramref name="name"/>: its personalities can no longer be created, and its
    /// load context is unloaded. A failed or incompatible entry is simply forgotten.
    /// </summary>
    /// <param name="name">The module's name (its file name without extension).</param>
    /// <returns>
    /// A weak reference to the module's load context (null target for an entry that never
    /// loaded): it dies once the devices created from the module are released and the garbage
    /// collector has run, which proves the module's code is gone.
    /// </returns>
    /// <exception cref="KeyNotFoundException">No module of that name.</exception>
    /// <exception cref="InvalidOperationException">Loaded descriptor modules reuse this module's behaviour; the message names them.</exception>
    public WeakReference Unload(string name)
    {
        LoadedModule? module;
        lock (_gate)
        {
            var dependents = _loaded.Values.Where(m => m.Info.DependsOn == name).Select(m => m.Info.Name).Order(StringComparer.Ordinal).ToArray();
            if (dependents.Length > 0)
                throw new InvalidOperationException($"module '{name}' provides the behaviour of module(s) {string.Join(", ", dependents)}; unload those first");
            if (!_loaded.Remove(name, out module))
            {
                if (_rejected.Remove(name)) return new WeakReference(null);
                throw new KeyNotFoundException($"no module named '{name}'; known: {string.Join(", ", Names())}");
            }
            foreach (var factory in module.Factories) _personalities.Remove(factory.Name);
        }
        var context = module.Context;
        var weak = new WeakReference(context, trackResurrection: true);
        context.Unload();
        _log?.LogInformation("Module {Module} unloaded", name);
        return weak;
    }

    /// <summary>Every module the catalog knows, loaded or not, by name.</summary>
    public IReadOnlyList<ModuleInfo> List()
    {
        lock (_gate)
        {
            return _loaded.Values.Select(m => m.Info).Concat(_rejected.Values)
                .OrderBy(i => i.Name, StringComparer.Ordinal)
                .ToArray();
        }
    }

    /// <summary>
    /// Checks the module in <paramref name="path"/> without keeping it: loads it into a
    /// throwaway context (compiling it if it is source, constructing its factories), checks its
    /// personality names against those loaded, and unloads it.
    /// </summary>
    /// <param name="path">The module file.</param>
    /// <returns>
    /// <see cref="ModuleState.Valid"/> with its personalities if it would load, otherwise the
    /// state and reason <see cref="Load"/> would give. The catalog is unchanged.
    /// </returns>
    public ModuleInfo Validate(string path)
    {
        var (module, info) = _loader.Load(path);
        if (module is null) return info;
        try
        {
            string? conflict;
            lock (_gate) conflict = Conflict(module.Factories, info.Name);
            return conflict is null
                ? info with { State = ModuleState.Valid }
                : info with { State = ModuleState.Failed, Reason = $"{info.File}: {conflict}", Personalities = [] };
        }
        finally
        {
            module.Context.Unload();
        }
    }

    /// <summary>The personalities of the loaded modules, by name.</summary>
    public IReadOnlyList<ModulePersonality> Personalities()
    {
        lock (_gate)
        {
            return _personalities
                .Select(p => new ModulePersonality(p.Value.Factory.Name, p.Value.Factory.Description, p.Value.Module))
                .OrderBy(p => p.Name, StringComparer.Ordinal)
                .ToArray();
        }
    }

    /// <summary>The factory of personality <paramref name="personality"/>, if a loaded module provides it.</summary>
    /// <param name="personality">Personality name, case-insensitive.</param>
    /// <param name="factory">The factory, or null.</param>
    public bool TryGetFactory(string personality, out IPersonalityFactory? factory)
    {
        lock (_gate)
        {
            factory = _personalities.TryGetValue(personality, out var entry) ? entry.Factory : null;
            return factory is not null;
        }
    }

    /// <summary>Creates a device of personality <paramref name="personality"/> from a loaded module.</summary>
    /// <param name="personality">Personality name, case-insensitive.</param>
    /// <param name="settings">MAC and options for the new NIC.</param>
    /// <returns>The new device.</returns>
    /// <exception cref="KeyNotFoundException">No loaded module provides it; the message lists those that are provided.</exception>
    /// <exception cref="InvalidOperationException">The module's factory threw; the message names the module, the inner exception is the factory's.</exception>
    public IPciDevice Create(string personality, PersonalitySettings settings) => Create(personality, settings, out _);

    /// <summary>
    /// Creates a device of personality <paramref name="personality"/> from a loaded module and says
    /// which module provided it (so a server can refuse to unload a module its NICs still use).
    /// </summary>
    /// <param name="personality">Personality name, case-insensitive.</param>
    /// <param name="settings">MAC and options for the new NIC.</param>
    /// <param name="module">The name of the module that provided the personality.</param>
    /// <returns>The new device.</returns>
    /// <exception cref="KeyNotFoundException">No loaded module provides it; the message lists those that are provided.</exception>
    /// <exception cref="ArgumentException">The personality refused an option; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The module's factory threw; the message names the module, the inner exception is the factory's.</exception>
    public IPciDevice Create(string personality, PersonalitySettings settings, out string module)
    {
        IPersonalityFactory factory;
        lock (_gate)
        {
            if (!_personalities.TryGetValue(personality, out var entry))
                throw new KeyNotFoundException($"no loaded module provides personality '{personality}'; provided: {string.Join(", ", _personalities.Keys.Order(StringComparer.Ordinal))}");
            (factory, module) = entry;
        }
        try
        {
            return factory.Create(settings) ?? throw new InvalidOperationException("the factory returned null");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"personality '{personality}' of module '{module}': {e.Message}", e);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"personality '{personality}' of module '{module}' failed to create a device: {e.Message}", e);
        }
    }

    /// <summary>The loader's view of the loaded personalities (a descriptor reusing one's behaviour asks).</summary>
    private ProvidedPersonality Provided(string personality)
    {
        lock (_gate)
        {
            // A personality a descriptor declared is not a behaviour another descriptor may reuse:
            // only the factory itself is handed out, never a DescribedFactory's wrapper.
            return _personalities.TryGetValue(personality, out var entry)
                ? new ProvidedPersonality(entry.Factory, entry.Module, [])
                : new ProvidedPersonality(null, null, _personalities.Keys.Order(StringComparer.Ordinal).ToArray());
        }
    }

    private string? Conflict(IReadOnlyList<IPersonalityFactory> factories, string moduleName)
    {
        foreach (var factory in factories)
        {
            if (_reserved.Contains(factory.Name))
                return $"personality '{factory.Name}' is built into the server";
            if (_personalities.TryGetValue(factory.Name, out var owner) && owner.Module != moduleName)
                return $"personality '{factory.Name}' is already provided by module '{owner.Module}' ({_loaded[owner.Module].Info.File})";
        }
        return null;
    }

    private IEnumerable<string> Names() =>
        _loaded.Keys.Concat(_rejected.Keys).Order(StringComparer.Ordinal);
}
