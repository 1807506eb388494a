using System.Reflection;
using Polynic.Core.Modules;

namespace Polynic.Modules;

/// <summary>A module whose factories are instantiated, in its own load context.</summary>
internal sealed record LoadedModule(ModuleInfo Info, ModuleLoadContext Context, IReadOnlyList<IPersonalityFactory> Factories);

/// <summary>
/// Loads one module file into a fresh collectible context: compiles it if it is source, checks
/// the SDK version it declares before running any of its code, then instantiates its
/// personality factories. Every problem becomes a <see cref="ModuleInfo"/> whose reason names
/// the file; a module that does not load leaves no context behind.
/// </summary>
internal sealed class ModuleLoader(SourceModuleCompiler compiler)
{
    /// <summary>The file extension of compiled modules.</summary>
    public const string CompiledExtension = ".dll";

    /// <summary>The file extension of source modules.</summary>
    public const string SourceExtension = ".cs";

    /// <summary>The compiler used for source modules.</summary>
    public SourceModuleCompiler Compiler { get; } = compiler;

    /// <summary>The module name of a file: its name without extension.</summary>
    public static string ModuleName(string path) => Path.GetFileNameWithoutExtension(path);

    /// <summary>Loads <paramref name="path"/>; the result is either a loaded module or a refusal/failure (never both).</summary>
    public (LoadedModule? Module, ModuleInfo Info) Load(string path)
    {
        string file = Path.GetFullPath(path);
        string name = ModuleName(file);
        var kind = file.EndsWith(SourceExtension, StringComparison.OrdinalIgnoreCase) ? ModuleKind.Source : ModuleKind.Compiled;
        var report = new ModuleInfo(name, kind, file, null, ModuleState.Failed, null, [], [], false);

        if (!File.Exists(file)) return (null, report with { Reason = $"{file}: no such file" });
        if (kind == ModuleKind.Compiled && !file.EndsWith(CompiledExtension, StringComparison.OrdinalIgnoreCase))
            return (null, report with { Reason = $"{file}: not a module (expected a {CompiledExtension} assembly or a {SourceExtension} source file)" });

        byte[] image;
        if (kind == ModuleKind.Source)
        {
            SourceCompilation compiled;
            try { compiled = Compiler.Compile(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return (null, report with { Reason = $"{file}: cannot read: {e.Message}" });
            }
            report = report with { Diagnostics = compiled.Diagnostics, FromCache = compiled.FromCache };
            if (compiled.Image is null)
            {
                var errors = compiled.Diagnostics.Where(d => d.IsError).ToArray();
                return (null, report with { Reason = $"{file}: does not compile ({errors.Length} error(s)); first: {errors.FirstOrDefault()}" });
            }
            image = compiled.Image;
        }
        else
        {
            try { image = File.ReadAllBytes(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return (null, report with { Reason = $"{file}: cannot read: {e.Message}" });
            }
        }

        var context = new ModuleLoadContext(name, kind == ModuleKind.Compiled ? file : null);
        try
        {
            var (factories, info) = Instantiate(context, image, report);
            if (factories is not null) return (new LoadedModule(info, context, factories), info);
            context.Unload();
            return (null, info);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    private static (IReadOnlyList<IPersonalityFactory>? Factories, ModuleInfo Info) Instantiate(
        ModuleLoadContext context, byte[] image, ModuleInfo report)
    {
        string file = report.File;
        Assembly assembly;
        try
        {
            // From memory, not from the path: the file stays free to be replaced by a new build
            // while this one is loaded, and nothing of the context refers to it after unloading.
            using var stream = new MemoryStream(image, writable: false);
            assembly = context.LoadFromStream(stream);
        }
        catch (BadImageFormatException)
        {
            return (null, report with { State = ModuleState.Incompatible, Reason = $"{file}: not a .NET assembly" });
        }

        // Reading an attribute runs no module code: the attribute type is Polynic.Core's.
        PolynicModuleAttribute? declared;
        try { declared = assembly.GetCustomAttribute<PolynicModuleAttribute>(); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or TypeLoadException)
        {
            return (null, report with { Reason = $"{file}: cannot read its module attribute: {e.Message}" });
        }
        if (declared is null)
        {
            return (null, report with
            {
                State = ModuleState.Incompatible,
                Reason = $"{file}: not a Polynic module (no [assembly: PolynicModule(...)]; this server provides SDK {PolynicSdk.Version})",
            });
        }
        report = report with { SdkVersion = declared.SdkVersion };
        if (!PolynicSdk.IsCompatible(declared.SdkMajor, declared.SdkMinor))
        {
            string why = declared.SdkMajor != PolynicSdk.Major ? "the major versions differ" : "it needs a newer minor version";
            return (null, report with
            {
                State = ModuleState.Incompatible,
                Reason = $"{file}: built for Polynic SDK {declared.SdkVersion}, this server provides SDK {PolynicSdk.Version}; {why}, rebuild the module against SDK {PolynicSdk.Version}",
            });
        }

        Type[] types;
        try { types = assembly.GetExportedTypes(); }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            string detail = e is ReflectionTypeLoadException r && r.LoaderExceptions.FirstOrDefault(x => x is not null) is { } first ? first.Message : e.Message;
            return (null, report with { Reason = $"{file}: cannot load its types: {detail}" });
        }

        var factoryTypes = types
            .Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && typeof(IPersonalityFactory).IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToArray();
        if (factoryTypes.Length == 0)
            return (null, report with { Reason = $"{file}: declares no personality (no public class implementing {nameof(IPersonalityFactory)})" });

        var factories = new List<IPersonalityFactory>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var type in factoryTypes)
        {
            if (type.GetConstructor(Type.EmptyTypes) is null)
                return (null, report with { Reason = $"{file}: personality factory {type.FullName} has no public parameterless constructor" });
            IPersonalityFactory factory;
            string factoryName;
            try
            {
                factory = (IPersonalityFactory)Activator.CreateInstance(type)!;
                // Both properties are read now so that a throwing getter fails the module
                // here, with its file named, rather than a later listing.
                factoryName = factory.Name;
                _ = factory.Description;
            }
            catch (Exception e)
            {
                var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
                return (null, report with { Reason = $"{file}: personality factory {type.FullName} threw {cause.GetType().Name}: {cause.Message}" });
            }
            if (string.IsNullOrWhiteSpace(factoryName))
                return (null, report with { Reason = $"{file}: personality factory {type.FullName} has an empty name" });
            if (!names.Add(factoryName))
                return (null, report with { Reason = $"{file}: personality '{factoryName}' is declared twice" });
            factories.Add(factory);
        }

        return (factories, report with
        {
            State = ModuleState.Loaded,
            Personalities = factories.Select(f => f.Name).ToArray(),
        });
    }
}
