using Microsoft.Extensions.Logging;

namespace Polynic.Modules;

/// <summary>How a <see cref="ModuleCatalog"/> finds, compiles and checks modules.</summary>
public sealed class ModuleCatalogOptions
{
    /// <summary>The default cache of compiled source modules.</summary>
    public const string DefaultCacheDirectory = "/var/cache/polynic/modules";

    /// <summary>
    /// Where compiled source modules are kept, keyed by SHA-256 of source and SDK version. Created
    /// 0700; if another user owns it or may write it, it is not used (modules are compiled on every load).
    /// </summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory;

    /// <summary>
    /// Personality names a module may not claim, such as the server's built-in ones; a module
    /// that does is failed with the name in the reason. Compared case-insensitively.
    /// </summary>
    public IReadOnlyCollection<string> ReservedPersonalities { get; init; } = [];

    /// <summary>Where loads, unloads and refusals are logged; null for none.</summary>
    public ILogger? Log { get; init; }
}
