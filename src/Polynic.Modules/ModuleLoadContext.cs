using System.Reflection;
using System.Runtime.Loader;
using Polynic.Core.Pci;

namespace Polynic.Modules;

/// <summary>
/// The collectible load context one module lives in. The SDK (Polynic.Core and the assemblies
/// its API exposes) always comes from the default context, so <c>IPciDevice</c> in the module
/// is the server's <c>IPciDevice</c>; the module's private dependencies come from its own
/// folder, isolated from other modules' versions of the same assemblies.
/// </summary>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    private static readonly HashSet<string> SharedAssemblies = BuildShared();
    private readonly AssemblyDependencyResolver? _resolver;
    private readonly string? _directory;

    /// <param name="moduleName">Names the context (seen in diagnostics and dumps).</param>
    /// <param name="modulePath">The compiled module's file, whose folder holds its dependencies; null for source modules.</param>
    public ModuleLoadContext(string moduleName, string? modulePath)
        : base($"polynic-module:{moduleName}", isCollectible: true)
    {
        if (modulePath is null) return;
        _directory = Path.GetDirectoryName(modulePath);
        try
        {
            _resolver = new AssemblyDependencyResolver(modulePath);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // No host resolver (unusual hosts); fall back to looking in the module's folder.
        }
    }

    /// <inheritdoc/>
    protected override Assembly? Load(AssemblyName name)
    {
        if (name.Name is null || SharedAssemblies.Contains(name.Name)) return null;
        string? path = _resolver?.ResolveAssemblyToPath(name);
        if (path is null && _directory is not null)
        {
            string candidate = Path.Combine(_directory, name.Name + ".dll");
            if (File.Exists(candidate)) path = candidate;
        }
        // Not private to the module: the framework, from the default context.
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    /// <inheritdoc/>
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver?.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private static HashSet<string> BuildShared()
    {
        var core = typeof(IPciDevice).Assembly;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { core.GetName().Name! };
        foreach (var referenced in core.GetReferencedAssemblies())
            if (referenced.Name is not null) names.Add(referenced.Name);
        return names;
    }
}
