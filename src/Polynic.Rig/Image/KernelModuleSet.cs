namespace Polynic.Rig.Image;

/// <summary>One module to put in the initramfs: its load name and its file in the root.</summary>
internal sealed record KernelModuleFile(string Name, string RelativePath);

/// <summary>The recipe's modules resolved against a kernel: what to load, in order, and what was skipped.</summary>
internal sealed record ModulePlan(IReadOnlyList<KernelModuleFile> LoadOrder, IReadOnlyList<string> BuiltIn, IReadOnlyList<string> Missing);

/// <summary>
/// A kernel's module index (modules.dep and modules.builtin of /lib/modules/RELEASE).
/// Names compare with '-' and '_' equal, as modprobe does.
/// </summary>
internal sealed class KernelModuleSet
{
    private readonly Dictionary<string, string> pathByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> dependenciesByName = new(StringComparer.Ordinal);
    private readonly HashSet<string> builtIn = new(StringComparer.Ordinal);

    public KernelModuleSet(IEnumerable<string> modulesDep, IEnumerable<string> modulesBuiltin)
    {
        foreach (var line in modulesDep)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) continue;
            var path = line[..colon].Trim();
            var name = NameOf(path);
            pathByName[name] = path;
            dependenciesByName[name] = line[(colon + 1)..]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(NameOf)
                .ToArray();
        }
        foreach (var line in modulesBuiltin)
            if (!string.IsNullOrWhiteSpace(line)) builtIn.Add(NameOf(line.Trim()));
    }

    /// <summary>Reads the index of <paramref name="moduleDirectory"/> (/lib/modules/RELEASE inside the root).</summary>
    public static KernelModuleSet Load(string moduleDirectory)
    {
        var dep = Path.Combine(moduleDirectory, "modules.dep");
        if (!File.Exists(dep))
            throw new RigException($"{dep} is missing; the kernel package was installed without depmod running.");
        var builtinPath = Path.Combine(moduleDirectory, "modules.builtin");
        return new KernelModuleSet(File.ReadLines(dep), File.Exists(builtinPath) ? File.ReadLines(builtinPath) : []);
    }

    /// <summary>Every wanted module and its dependencies, each after everything it depends on.</summary>
    public ModulePlan Plan(IEnumerable<string> wanted)
    {
        var order = new List<KernelModuleFile>();
        var placed = new HashSet<string>(StringComparer.Ordinal);
        var builtInHits = new List<string>();
        var missing = new List<string>();
        foreach (var raw in wanted)
        {
            var name = Normalize(raw);
            if (pathByName.ContainsKey(name)) Place(name, order, placed, depth: 0);
            else if (builtIn.Contains(name)) builtInHits.Add(raw);
            else missing.Add(raw);
        }
        return new ModulePlan(order, builtInHits, missing);
    }

    private void Place(string name, List<KernelModuleFile> order, HashSet<string> placed, int depth)
    {
        // modules.dep is acyclic, but a corrupt file must not recurse forever.
        if (depth > 64 || !placed.Add(name)) return;
        foreach (var dependency in dependenciesByName.GetValueOrDefault(name, []))
            if (pathByName.ContainsKey(dependency)) Place(dependency, order, placed, depth + 1);
        order.Add(new KernelModuleFile(name, pathByName[name]));
    }

    /// <summary>"kernel/drivers/net/ethernet/8390/ne2k-pci.ko.xz" -> "ne2k_pci".</summary>
    public static string NameOf(string path)
    {
        var file = Path.GetFileName(path);
        var ko = file.IndexOf(".ko", StringComparison.Ordinal);
        return Normalize(ko >= 0 ? file[..ko] : file);
    }

    public static string Normalize(string name) => name.Replace('-', '_');
}
