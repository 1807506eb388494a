using Polynic.Fuzzing.Devices;
using Polynic.Modules;

namespace Polynic.Fuzzing.Tests;

/// <summary>
/// A modules directory laid out as <c>./polynic</c> lays out artifacts/modules — each compiled
/// personality in a folder of its name, the repository's source and descriptor modules beside them —
/// loaded into one catalog, so the fuzzer meets the personalities exactly as the server does
/// (NE2000's C# compiled on load, the scratchpad from its XML alone).
/// </summary>
public sealed class ModulesFixture : IDisposable
{
    public static readonly string[] Compiled =
        ["Polynic.Personalities.Diagnostic", "Polynic.Personalities.E1000", "Polynic.Personalities.Rtl8139", "Polynic.Personalities.VirtioNet"];

    /// <summary>Every personality the issue asks to be fuzzed, plus the diagnostic function.</summary>
    public static readonly string[] Personalities = ["e1000", "e1000e", "rtl8139", "rtl8139cp", "ne2000", "virtio-net", "scratchpad", "diagnostic"];

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"polynic-fuzz-{Guid.NewGuid():N}");

    public ModulesFixture()
    {
        string modules = Path.Combine(_root, "modules");
        foreach (var name in Compiled)
        {
            Directory.CreateDirectory(Path.Combine(modules, name));
            File.Copy(Path.Combine(AppContext.BaseDirectory, name + ".dll"), Path.Combine(modules, name, name + ".dll"));
        }
        foreach (var folder in Directory.EnumerateDirectories(Path.Combine(AppContext.BaseDirectory, "modules")))
        {
            string target = Path.Combine(modules, Path.GetFileName(folder));
            Directory.CreateDirectory(target);
            foreach (var file in Directory.EnumerateFiles(folder)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        Catalog = new ModuleCatalog(new ModuleCatalogOptions { CacheDirectory = Path.Combine(_root, "cache") });
        Modules = Catalog.LoadDirectory(modules);
    }

    public ModuleCatalog Catalog { get; }

    public IReadOnlyList<ModuleInfo> Modules { get; }

    public DeviceTarget Target(string personality) => DeviceTarget.FromCatalog(Catalog, personality);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ModulesCollection : ICollectionFixture<ModulesFixture>
{
    public const string Name = "modules";
}
