using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.CodeAnalysis;
using Polynic.Core.Pci;

namespace Polynic.Modules;

/// <summary>
/// The assemblies a source module is compiled against: the reference assemblies of the
/// framework the server runs on, plus Polynic.Core and the assemblies its public API exposes
/// (Microsoft.Extensions.Logging.Abstractions). Nothing else: a source module sees the SDK,
/// never the server's internals or any built-in personality.
/// </summary>
internal static class CompilationReferences
{
    private static readonly Lazy<IReadOnlyList<MetadataReference>> All = new(Build);

    /// <summary>The references, built once per process (reading them costs tens of milliseconds).</summary>
    public static IReadOnlyList<MetadataReference> Get() => All.Value;

    /// <summary>Paths of the framework's assemblies to compile against; reference assemblies when the SDK's targeting pack is installed.</summary>
    public static IReadOnlyList<string> FrameworkPaths()
    {
        // The runtime directory is <dotnet>/shared/Microsoft.NETCore.App/<version>/; the
        // targeting pack (reference assemblies, what a build uses) is under <dotnet>/packs.
        string runtimeDirectory = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        string? dotnetRoot = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(runtimeDirectory)));
        var version = Environment.Version;
        string tfm = $"net{version.Major}.{version.Minor}";
        if (dotnetRoot is not null)
        {
            string packs = Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref");
            if (Directory.Exists(packs))
            {
                var candidates = Directory.GetDirectories(packs)
                    .Select(d => (Directory: d, Version: System.Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
                    .Where(c => c.Version is not null && c.Version.Major == version.Major && c.Version.Minor == version.Minor)
                    .OrderByDescending(c => c.Version)
                    .Select(c => Path.Combine(c.Directory, "ref", tfm))
                    .Where(Directory.Exists);
                foreach (var directory in candidates)
                {
                    var dlls = Directory.GetFiles(directory, "*.dll");
                    if (dlls.Length > 0) return dlls;
                }
            }
        }
        // A runtime-only install has no targeting pack: compile against the implementation
        // assemblies the runtime itself trusts, which the compiler accepts just as well.
        string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
        return tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => string.Equals(Path.GetDirectoryName(p), runtimeDirectory, StringComparison.Ordinal))
            .ToArray();
    }

    /// <summary>Polynic.Core and the non-framework assemblies its API depends on.</summary>
    public static IReadOnlyList<string> SdkPaths()
    {
        var core = typeof(IPciDevice).Assembly;
        var paths = new List<string> { core.Location };
        string runtimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();
        foreach (var name in core.GetReferencedAssemblies())
        {
            Assembly referenced;
            try { referenced = Assembly.Load(name); }
            catch (IOException) { continue; }
            if (referenced.Location.Length > 0 && !referenced.Location.StartsWith(runtimeDirectory, StringComparison.Ordinal))
                paths.Add(referenced.Location);
        }
        return paths;
    }

    private static IReadOnlyList<MetadataReference> Build() =>
        FrameworkPaths().Concat(SdkPaths())
            .Distinct(StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
}
