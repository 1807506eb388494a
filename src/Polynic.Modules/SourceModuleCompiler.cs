using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.Extensions.Logging;
using Polynic.Core.Modules;

namespace Polynic.Modules;

/// <summary>The outcome of compiling one source module.</summary>
/// <param name="File">The source file.</param>
/// <param name="Image">The compiled assembly, or null if the source has errors.</param>
/// <param name="Diagnostics">Errors and warnings, with 1-based lines and columns (empty on a cache hit).</param>
/// <param name="FromCache">The image came from the cache; the compiler did not run.</param>
public sealed record SourceCompilation(string File, byte[]? Image, IReadOnlyList<ModuleDiagnostic> Diagnostics, bool FromCache)
{
    /// <summary>Whether the source compiled.</summary>
    public bool Succeeded => Image is not null;
}

/// <summary>
/// Compiles C# source modules with Roslyn against the running framework's reference
/// assemblies and Polynic.Core, and caches the result on disk under the SHA-256 of the source
/// and the SDK version, so a server restart does not recompile an unchanged module.
/// </summary>
/// <remarks>
/// Thread-safe. Two threads compiling the same source both compile; the cache entry is replaced
/// atomically. The server runs what the cache holds, so the cache is used only in a directory no
/// other local user can change, and a cached image only if it matches the SHA-256 recorded when
/// it was compiled; otherwise the module is compiled again and the reason logged.
/// </remarks>
public sealed class SourceModuleCompiler
{
    private readonly CompiledModuleCache _cache;
    private int _compilations;

    /// <summary>Creates a compiler that caches in <paramref name="cacheDirectory"/> (created 0700 when first needed).</summary>
    /// <param name="cacheDirectory">Cache directory; see <see cref="ModuleCatalogOptions.CacheDirectory"/>.</param>
    /// <param name="log">Where a cache that is not used, or an image that is refused, is reported; null for nowhere.</param>
    public SourceModuleCompiler(string cacheDirectory, ILogger? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        CacheDirectory = Path.GetFullPath(cacheDirectory);
        _cache = new CompiledModuleCache(CacheDirectory, log);
    }

    /// <summary>Where compiled images are kept (each with the SHA-256 it had when compiled).</summary>
    public string CacheDirectory { get; }

    /// <summary>How many times this compiler has run Roslyn (cache misses); for tests and metrics.</summary>
    public int Compilations => Volatile.Read(ref _compilations);

    /// <summary>
    /// Compiles <paramref name="sourcePath"/>, or returns the cached image of the same source
    /// compiled for the same SDK version.
    /// </summary>
    /// <param name="sourcePath">A C# file holding the whole module.</param>
    /// <returns>The image, or the compiler's diagnostics when the source has errors.</returns>
    /// <exception cref="IOException">The source file cannot be read.</exception>
    public SourceCompilation Compile(string sourcePath)
    {
        string file = Path.GetFullPath(sourcePath);
        byte[] source = File.ReadAllBytes(file);
        string key = CacheKey(source);
        if (_cache.TryRead(key) is { } hit) return new SourceCompilation(file, hit, [], FromCache: true);

        Interlocked.Increment(ref _compilations);
        var text = Microsoft.CodeAnalysis.Text.SourceText.From(source, source.Length, Encoding.UTF8, canBeEmbedded: true);
        var tree = CSharpSyntaxTree.ParseText(text, new CSharpParseOptions(LanguageVersion.Latest), path: file);
        // The assembly is named after the content, not the file: identical sources share a
        // cache entry, and each module gets its own load context, so names never collide.
        var compilation = CSharpCompilation.Create(
            "PolynicSourceModule_" + key[..16],
            [tree],
            CompilationReferences.Get(),
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                optimizationLevel: OptimizationLevel.Release,
                nullableContextOptions: NullableContextOptions.Enable,
                deterministic: true));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var diagnostics = result.Diagnostics
            .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
            .Select(d => ToModuleDiagnostic(file, d))
            .OrderBy(d => d.Line).ThenBy(d => d.Column)
            .ToArray();
        if (!result.Success) return new SourceCompilation(file, null, diagnostics, FromCache: false);

        byte[] bytes = image.ToArray();
        _cache.Write(key, bytes);
        return new SourceCompilation(file, bytes, diagnostics, FromCache: false);
    }

    /// <summary>The cache key: SHA-256 over the SDK version and the source bytes, in lower-case hex.</summary>
    internal static string CacheKey(ReadOnlySpan<byte> source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"polynic-sdk {PolynicSdk.Version}\n"));
        hash.AppendData(source);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static ModuleDiagnostic ToModuleDiagnostic(string file, Diagnostic d)
    {
        var span = d.Location.GetLineSpan();
        var start = span.StartLinePosition;
        return new ModuleDiagnostic(
            span.Path is { Length: > 0 } path ? path : file,
            start.Line + 1,
            start.Character + 1,
            d.Severity == DiagnosticSeverity.Error ? "error" : "warning",
            d.Id,
            d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }
}
