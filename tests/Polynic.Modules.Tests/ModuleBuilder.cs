using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Polynic.Modules.Tests;

/// <summary>
/// Builds module assemblies at test time, as a third party would with the SDK: Roslyn against
/// the assemblies this test process runs on (its own copy of the references, independent of
/// the catalog's compiler).
/// </summary>
internal static class ModuleBuilder
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray());

    /// <summary>Compiles <paramref name="source"/> into <paramref name="directory"/>/<paramref name="name"/>.dll and returns its path.</summary>
    public static string Compile(string directory, string name, string source, params string[] extraReferences)
    {
        Directory.CreateDirectory(directory);
        var compilation = CSharpCompilation.Create(
            name,
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value.Concat(extraReferences.Select(r => MetadataReference.CreateFromFile(r))),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        string path = Path.Combine(directory, name + ".dll");
        var result = compilation.Emit(path);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return path;
    }
}
