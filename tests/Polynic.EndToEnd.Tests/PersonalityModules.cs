using Polynic.Modules;

namespace Polynic.EndToEnd.Tests;

/// <summary>
/// The personality modules as a server loads them: each personality's compiled assembly (built
/// beside the tests) in a collectible context of its own, and the source and descriptor modules
/// of the repository's modules/ folder. A <see cref="Polynic.Management.Hosting.ServerHost"/>
/// built on this catalog creates its devices exactly as <c>polynic serve</c> does.
/// </summary>
internal static class PersonalityModules
{
    public static readonly string[] Compiled =
    [
        "Polynic.Personalities.Diagnostic", "Polynic.Personalities.E1000",
        "Polynic.Personalities.Rtl8139", "Polynic.Personalities.VirtioNet",
    ];

    /// <summary>A new catalog with every compiled module loaded (asserted).</summary>
    public static ModuleCatalog Catalog()
    {
        var catalog = new ModuleCatalog();
        foreach (var name in Compiled)
        {
            var info = catalog.Load(Path.Combine(AppContext.BaseDirectory, name + ".dll"));
            Assert.True(info.State == ModuleState.Loaded, info.ToString());
        }
        return catalog;
    }

    /// <summary>The repository's modules/ folder (source and descriptor modules).</summary>
    public static string SourceDirectory() => Path.Combine(Modules.PolynicProcess.RepositoryRoot(), "modules");
}
