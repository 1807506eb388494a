using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.Diagnostic;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;

namespace Polynic.Management.Hosting;

/// <summary>The personalities this server can instantiate, by the name a configuration uses.</summary>
public static class PersonalityCatalog
{
    private static readonly Dictionary<string, Func<NicSettings, IPciDevice>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["diagnostic"] = _ => new DiagnosticDevice(),
        ["e1000"] = settings => new E1000Device(settings),
        ["virtio-net"] = settings => new VirtioNetDevice(settings),
    };

    /// <summary>Known personality names, sorted.</summary>
    public static IEnumerable<string> Names => Factories.Keys.Order(StringComparer.Ordinal);

    /// <summary>Creates a device of personality <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such personality; the message lists the known ones.</exception>
    public static IPciDevice Create(string name, NicSettings settings) =>
        Factories.TryGetValue(name, out var factory)
            ? factory(settings)
            : throw new KeyNotFoundException($"unknown personality '{name}'; known: {string.Join(", ", Names)}");
}
