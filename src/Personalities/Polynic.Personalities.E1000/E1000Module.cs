using Polynic.Core.Modules;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Personalities.E1000;

/// <summary>
/// The e1000 as a run-time module: the server finds this factory when it loads the assembly
/// from its modules directory; the server has no compile-time reference to it.
/// </summary>
public sealed class E1000Factory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "e1000";

    /// <inheritdoc/>
    public string Description => "Intel 82540EM Gigabit Ethernet (8086:100E), Linux e1000";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions();
        return new E1000Device(settings.Nic);
    }
}
