using Polynic.Core.Pci;
using Polynic.Personalities.Diagnostic;

namespace Polynic.Cli.Serving;

/// <summary>The personalities this server can instantiate, by the kind name used in <see cref="DeviceSpec"/>.</summary>
internal static class PersonalityCatalog
{
    private static readonly Dictionary<string, Func<DeviceSpec, IPciDevice>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["diagnostic"] = _ => new DiagnosticDevice(),
    };

    public static IEnumerable<string> Kinds => Factories.Keys.Order();

    public static IPciDevice Create(DeviceSpec spec) =>
        Factories.TryGetValue(spec.Kind, out var factory)
            ? factory(spec)
            : throw new FormatException($"unknown device kind '{spec.Kind}'; known kinds: {string.Join(", ", Kinds)}.");
}
