using Polynic.Modules;

namespace Polynic.Cli.Serving;

/// <summary>Where the CLI finds personality modules when not told: the folder <c>./polynic</c> builds them into.</summary>
internal static class ModulesDirectory
{
    /// <summary>artifacts/modules beside the CLI's own artifacts/cli; null when it does not exist.</summary>
    public static DirectoryInfo? Default()
    {
        var directory = new DirectoryInfo(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "modules")));
        return directory.Exists ? directory : null;
    }

    /// <summary>
    /// A catalog with every module of <paramref name="directory"/> (the default when null) loaded;
    /// one line per module goes to <paramref name="output"/>, so a module that failed is seen.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No directory given and the default does not exist.</exception>
    public static ModuleCatalog Load(DirectoryInfo? directory, TextWriter output)
    {
        directory ??= Default() ?? throw new DirectoryNotFoundException(
            $"no modules directory: {Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "modules"))} does not exist (run ./polynic, which builds the modules there, or pass --modules DIR)");
        var catalog = new ModuleCatalog();
        foreach (var module in catalog.LoadDirectory(directory.FullName))
            output.WriteLine(Describe(module));
        return catalog;
    }

    /// <summary>The default modules, loaded; see <see cref="Load"/>.</summary>
    public static ModuleCatalog LoadDefault(TextWriter output) => Load(null, output);

    /// <summary>One line per module, then its compiler diagnostics (file:line:column).</summary>
    public static string Describe(ModuleInfo info) =>
        string.Join(Environment.NewLine, new[] { "module " + info }.Concat(info.Diagnostics.Select(d => "  " + d)));
}
