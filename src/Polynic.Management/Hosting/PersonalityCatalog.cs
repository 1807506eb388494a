using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.Diagnostic;
using Polynic.Personalities.E1000;
using Polynic.Personalities.VirtioNet;

namespace Polynic.Management.Hosting;

/// <summary>
/// The personalities compiled into this server, by the name a configuration uses. Others
/// (the RTL8139, for one) are modules the server loads at run time from its modules directory
/// (<see cref="Polynic.Modules.ModuleCatalog"/>), with no compile-time reference.
/// </summary>
public static class PersonalityCatalog
{
    private static readonly Dictionary<string, Func<NicSettings, byte?, IPciDevice>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["diagnostic"] = (_, _) => new DiagnosticDevice(),
        ["e1000"] = (settings, _) => new E1000Device(settings),
        ["virtio-net"] = (settings, _) => new VirtioNetDevice(settings),
    };

    /// <summary>Known personality names, sorted.</summary>
    public static IEnumerable<string> Names => Factories.Keys.Order(StringComparer.Ordinal);

    /// <summary>
    /// Creates a device of personality <paramref name="name"/> with the configured PCI
    /// <paramref name="revision"/> where the personality has revisions.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such personality; the message lists the known ones.</exception>
    public static IPciDevice Create(string name, NicSettings settings, byte? revision) =>
        Factories.TryGetValue(name, out var factory)
            ? factory(settings, revision)
            : throw new KeyNotFoundException($"unknown personality '{name}'; known: {string.Join(", ", Names)}");
}
