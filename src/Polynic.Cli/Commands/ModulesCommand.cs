using System.CommandLine;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic modules ...</c>: inspect personality modules without serving them.</summary>
internal static class ModulesCommand
{
    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("directory") { Description = "A modules directory (*.dll, *.cs, or name/name.dll)." };
        var list = new Command("list", "Load every module in a directory into a throwaway catalog and list modules, personalities and problems.");
        list.Arguments.Add(directory);
        list.SetAction(parse =>
        {
            var catalog = NewCatalog();
            var modules = catalog.LoadDirectory(parse.GetValue(directory)!.FullName);
            foreach (var m in modules) Console.WriteLine(Describe(m));
            foreach (var p in catalog.Personalities()) Console.WriteLine($"  personality {p.Name} ({p.Module}): {p.Description}");
            return modules.All(m => m.State == ModuleState.Loaded) ? 0 : 1;
        });

        var file = new Argument<FileInfo>("file") { Description = "A compiled module (.dll) or a C# source module (.cs)." };
        var validate = new Command("validate", "Check one module: SDK version, load, factories, compile errors for source modules.");
        validate.Arguments.Add(file);
        validate.SetAction(parse =>
        {
            var info = NewCatalog().Validate(parse.GetValue(file)!.FullName);
            Console.WriteLine(Describe(info));
            return info.State == ModuleState.Valid ? 0 : 1;
        });

        var command = new Command("modules", "Personality modules loaded at run time (compiled assemblies or C# source compiled on load).");
        command.Subcommands.Add(list);
        command.Subcommands.Add(validate);
        return command;
    }

    /// <summary>One line per module, then its compiler diagnostics (file:line:column).</summary>
    public static string Describe(ModuleInfo info) =>
        string.Join(Environment.NewLine, new[] { info.ToString() }.Concat(info.Diagnostics.Select(d => "  " + d)));

    private static ModuleCatalog NewCatalog() =>
        new(new ModuleCatalogOptions { ReservedPersonalities = PersonalityCatalog.Names.ToList() });
}
