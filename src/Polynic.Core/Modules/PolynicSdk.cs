namespace Polynic.Core.Modules;

/// <summary>
/// The version of the module SDK this build of Polynic provides: the contract in
/// <c>Polynic.Core</c> (<see cref="IPersonalityFactory"/>, <see cref="Pci.IPciDevice"/>,
/// <see cref="Nic.NicDevice"/> and what they use) that a personality module is compiled against.
/// </summary>
/// <remarks>
/// Semantic versioning: a different <see cref="Major"/> means the contract changed
/// incompatibly and the module must be rebuilt; a module built for a higher <see cref="Minor"/>
/// than the server's may use members the server does not have. A module states the version it
/// was built for with <see cref="PolynicModuleAttribute"/>, normally by passing these
/// constants, which the compiler copies into the module.
/// </remarks>
public static class PolynicSdk
{
    /// <summary>Major version: changes only when the module contract breaks.</summary>
    public const int Major = 1;

    /// <summary>Minor version: grows when the contract gains members, compatibly.</summary>
    public const int Minor = 3;

    /// <summary>The SDK version as text, <c>"Major.Minor"</c>.</summary>
    public const string Version = "1.3";

    /// <summary>
    /// Whether a module built for SDK <paramref name="major"/>.<paramref name="minor"/> can run
    /// on this server: the same major version and a minor version no higher than <see cref="Minor"/>.
    /// </summary>
    /// <param name="major">The major version the module declares.</param>
    /// <param name="minor">The minor version the module declares.</param>
    /// <returns>True if the module may be loaded.</returns>
    public static bool IsCompatible(int major, int minor) => major == Major && minor >= 0 && minor <= Minor;
}
