using System.Reflection;
using Polynic.Core.Modules;
using Polynic.Modules.Descriptors;

namespace Polynic.Modules;

/// <summary>A module whose factories are instantiated, in its own load context.</summary>
internal sealed record LoadedModule(ModuleInfo Info, ModuleLoadContext Context, IReadOnlyList<IPersonalityFactory> Factories);

/// <summary>A personality a loaded module provides, as a descriptor that reuses its behaviour finds it.</summary>
/// <param name="Factory">The personality's factory, or null when no loaded module provides it.</param>
/// <param name="Module">The module that provides it; null when none does.</param>
/// <param name="Provided">Every personality name provided, for the message when none matches.</param>
internal sealed record ProvidedPersonality(IPersonalityFactory? Factory, string? Module, IReadOnlyList<string> Provided);

/// <summary>
/// Loads one module file into a fresh collectible context: compiles it if it is source, checks
/// the SDK version it declares before running any of its code, then instantiates its
/// personality factories. Every problem becomes a <see cref="ModuleInfo"/> whose reason names
/// the file; a module that does not load leaves no context behind.
/// </summary>
internal sealed class ModuleLoader(SourceModuleCompiler compiler, Func<string, ProvidedPersonality?>? personalities = null)
{
    /// <summary>The file extension of compiled modules.</summary>
    public const string CompiledExtension = ".dll";

    /// <summary>The file extension of source modules.</summary>
    public const string SourceExtension = ".cs";

    /// <summary>The file extension of XML personality descriptors.</summary>
    public const string DescriptorExtension = ".xml";

    /// <summary>The compiler used for source modules.</summary>
    public SourceModuleCompiler Compiler { get; } = compiler;

    /// <summary>The module name of a file: its name without extension.</summary>
    public static string ModuleName(string path) => Path.GetFileNameWithoutExtension(path);

    /// <summary>The kind of module a file is, by its extension.</summary>
    public static ModuleKind KindOf(string path) =>
        path.EndsWith(SourceExtension, StringComparison.OrdinalIgnoreCase) ? ModuleKind.Source
        : path.EndsWith(DescriptorExtension, StringComparison.OrdinalIgnoreCase) ? ModuleKind.Descriptor
        : ModuleKind.Compiled;

    /// <summary>
    /// Whether the .xml file <paramref name="path"/> should be treated as a personality descriptor
    /// when a directory is scanned: yes unless its root element can be read and is something else
    /// (the XML documentation file a compiled module's build puts beside its .dll, say). A
    /// descriptor too broken to read is still taken, so that its error is reported.
    /// </summary>
    public static bool IsDescriptorCandidate(string path)
    {
        try
        {
            using var reader = System.Xml.XmlReader.Create(path, new System.Xml.XmlReaderSettings
            {
                DtdProcessing = System.Xml.DtdProcessing.Prohibit,
                XmlResolver = null,
                MaxCharactersInDocument = PersonalityDescriptorReader.MaxCharacters,
            });
            reader.MoveToContent();
            return reader.NamespaceURI == PersonalityDescriptorReader.Namespace || reader.LocalName == "personality";
        }
        catch (Exception e) when (e is System.Xml.XmlException or IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>Loads <paramref name="path"/>; the result is either a loaded module or a refusal/failure (never both).</summary>
    public (LoadedModule? Module, ModuleInfo Info) Load(string path)
    {
        string file = Path.GetFullPath(path);
        string name = ModuleName(file);
        var kind = KindOf(file);
        var report = new ModuleInfo(name, kind, file, null, ModuleState.Failed, null, [], [], false);

        if (!File.Exists(file)) return (null, report with { Reason = $"{file}: no such file" });
        if (kind == ModuleKind.Compiled && !file.EndsWith(CompiledExtension, StringComparison.OrdinalIgnoreCase))
            return (null, report with { Reason = $"{file}: not a module (expected a {CompiledExtension} assembly, a {SourceExtension} source file or a {DescriptorExtension} descriptor)" });
        if (kind == ModuleKind.Descriptor) return LoadDescriptor(file, report);

        var (image, imageReport) = ReadImage(file, kind, report);
        if (image is null) return (null, imageReport);
        var context = new ModuleLoadContext(name, kind == ModuleKind.Compiled ? file : null);
        try
        {
            var (factories, info) = Instantiate(context, image, imageReport);
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

    /// <summary>
    /// A descriptor module: the descriptor is read and checked; without behaviour it is the whole
    /// personality, with behaviour its code file is compiled or read and loaded into the module's
    /// context, and the named factory creates the devices with the descriptor in hand.
    /// </summary>
    private (LoadedModule? Module, ModuleInfo Info) LoadDescriptor(string file, ModuleInfo report)
    {
        var read = PersonalityDescriptorReader.Read(file);
        if (read.Descriptor is not { } descriptor)
        {
            return (null, report with
            {
                Diagnostics = read.Errors,
                Reason = $"{file}: invalid personality descriptor ({read.Errors.Count} error(s)); first: {read.Errors[0]}",
            });
        }
        var loaded = report with { State = ModuleState.Loaded, SdkVersion = PolynicSdk.Version, Personalities = [descriptor.Name] };
        if (read.Behaviour is not { } behaviour)
            return (new LoadedModule(loaded, new ModuleLoadContext(report.Name, null), [new DescriptorFactory(descriptor)]), loaded);
        if (behaviour.Personality is { } personality)
            return LoadDescribedPersonality(file, read, descriptor, behaviour, personality, loaded);

        string code = behaviour.File!;
        var codeKind = KindOf(code);
        var (image, imageReport) = ReadImage(code, codeKind, report with { File = code });
        if (image is null) return (null, imageReport with { File = file, Reason = $"{file}:{behaviour.Line}:{behaviour.Column}: behaviour {imageReport.Reason}" });
        var context = new ModuleLoadContext(report.Name, codeKind == ModuleKind.Compiled ? code : null);
        try
        {
            var (types, checkedReport) = LoadTypes(context, image, imageReport);
            IPersonalityFactory? factory = null;
            string? reason = checkedReport.Reason;
            if (types is not null)
            {
                var type = types.FirstOrDefault(t => t.FullName == behaviour.Factory);
                if (type is null || !typeof(IPersonalityFactory).IsAssignableFrom(type) || type.IsAbstract)
                    reason = $"{code}: has no public class {behaviour.Factory} implementing {nameof(IPersonalityFactory)}";
                else
                    (factory, reason) = CreateFactory(type, code);
            }
            if (factory is not null && Refused(file, read, factory) is { } refused)
            {
                context.Unload();
                return (null, loaded with { State = ModuleState.Failed, Personalities = [], Diagnostics = refused, Reason = Because(file, refused) });
            }
            if (factory is null)
            {
                context.Unload();
                return (null, checkedReport with { File = file, State = checkedReport.State == ModuleState.Incompatible ? ModuleState.Incompatible : ModuleState.Failed,
                    Reason = $"{file}:{behaviour.Line}:{behaviour.Column}: behaviour {reason}" });
            }
            var info = loaded with { SdkVersion = checkedReport.SdkVersion, Diagnostics = imageReport.Diagnostics, FromCache = imageReport.FromCache };
            return (new LoadedModule(info, context, [new DescribedFactory(descriptor, factory)]), info);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    /// <summary>
    /// A descriptor whose behaviour is a personality an already-loaded module provides: no code of
    /// its own; the devices come from that personality's factory, with this descriptor in hand,
    /// once the factory (an <see cref="IDescriptorBehaviour"/>) says it can serve the descriptor.
    /// </summary>
    private (LoadedModule? Module, ModuleInfo Info) LoadDescribedPersonality(
        string file, DescriptorReadResult read, PersonalityDescriptor descriptor, BehaviourReference behaviour, string personality, ModuleInfo loaded)
    {
        string at = $"{file}:{behaviour.Line}:{behaviour.Column}";
        ModuleInfo Failed(string reason) => loaded with
        {
            State = ModuleState.Failed,
            Personalities = [],
            Reason = reason,
            Diagnostics = [new ModuleDiagnostic(file, behaviour.Line, behaviour.Column, "error", "PND", reason[(at.Length + 2)..])],
        };
        var found = personalities?.Invoke(personality);
        if (found?.Factory is not { } factory || found.Module is not { } module)
        {
            string provided = found is null || found.Provided.Count == 0 ? "none" : string.Join(", ", found.Provided);
            return (null, Failed($"{at}: behaviour personality '{personality}' is not provided by any loaded module (provided: {provided}); load the module that provides it first"));
        }
        if (factory is not IDescriptorBehaviour)
            return (null, Failed($"{at}: behaviour personality '{factory.Name}' of module '{module}' cannot serve another descriptor (its factory does not implement {nameof(IDescriptorBehaviour)})"));
        if (Refused(file, read, factory) is { } refused)
            return (null, loaded with { State = ModuleState.Failed, Personalities = [], Diagnostics = refused, Reason = Because(file, refused) });
        var info = loaded with { DependsOn = module };
        return (new LoadedModule(info, new ModuleLoadContext(info.Name, null), [new DescribedFactory(descriptor, factory)]), info);
    }

    /// <summary>What a behaviour that checks descriptors finds wrong with this one, as diagnostics at their elements; null when nothing (or when it does not check).</summary>
    private static IReadOnlyList<ModuleDiagnostic>? Refused(string file, DescriptorReadResult read, IPersonalityFactory factory)
    {
        if (factory is not IDescriptorBehaviour checker) return null;
        IReadOnlyList<DescriptorProblem> problems;
        try { problems = checker.CheckDescriptor(read.Descriptor!); }
        catch (Exception e)
        {
            problems = [new DescriptorProblem(DescriptorPart.Behaviour, $"behaviour '{factory.Name}' threw {e.GetType().Name} while checking the descriptor: {e.Message}")];
        }
        if (problems.Count == 0) return null;
        return problems.Select(p => read.Diagnose(p) with { File = file }).ToArray();
    }

    private static string Because(string file, IReadOnlyList<ModuleDiagnostic> problems) =>
        $"{file}: the behaviour cannot serve this descriptor ({problems.Count} problem(s)); first: {problems[0]}";

    /// <summary>The assembly image of a compiled or source file (compiling the latter), or the reason there is none.</summary>
    private (byte[]? Image, ModuleInfo Report) ReadImage(string file, ModuleKind kind, ModuleInfo report)
    {
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
            return (compiled.Image, report);
        }
        try { return (File.ReadAllBytes(file), report); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, report with { Reason = $"{file}: cannot read: {e.Message}" });
        }
    }

    /// <summary>
    /// Loads the image into the context and checks its SDK declaration before any of its code
    /// runs; returns its exported types, or null and the reason.
    /// </summary>
    private static (Type[]? Types, ModuleInfo Info) LoadTypes(ModuleLoadContext context, byte[] image, ModuleInfo report)
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
        return (types, report);
    }

    private static (IReadOnlyList<IPersonalityFactory>? Factories, ModuleInfo Info) Instantiate(
        ModuleLoadContext context, byte[] image, ModuleInfo report)
    {
        string file = report.File;
        var (types, checkedReport) = LoadTypes(context, image, report);
        if (types is null) return (null, checkedReport);
        report = checkedReport;

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
            var (factory, reason) = CreateFactory(type, file);
            if (factory is null) return (null, report with { Reason = reason });
            if (!names.Add(factory.Name))
                return (null, report with { Reason = $"{file}: personality '{factory.Name}' is declared twice" });
            factories.Add(factory);
        }

        return (factories, report with
        {
            State = ModuleState.Loaded,
            Personalities = factories.Select(f => f.Name).ToArray(),
        });
    }

    /// <summary>Constructs one factory and reads its name and description, so a throwing constructor or getter fails the module here, with its file named.</summary>
    private static (IPersonalityFactory? Factory, string? Reason) CreateFactory(Type type, string file)
    {
        if (type.GetConstructor(Type.EmptyTypes) is null)
            return (null, $"{file}: personality factory {type.FullName} has no public parameterless constructor");
        IPersonalityFactory factory;
        string name;
        try
        {
            factory = (IPersonalityFactory)Activator.CreateInstance(type)!;
            name = factory.Name;
            _ = factory.Description;
        }
        catch (Exception e)
        {
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            return (null, $"{file}: personality factory {type.FullName} threw {cause.GetType().Name}: {cause.Message}");
        }
        return string.IsNullOrWhiteSpace(name)
            ? (null, $"{file}: personality factory {type.FullName} has an empty name")
            : (factory, null);
    }
}
