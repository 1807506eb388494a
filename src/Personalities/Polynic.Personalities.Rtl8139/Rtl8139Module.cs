using Polynic.Core.Modules;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// The RTL8139 as a run-time module: the server finds these factories when it loads this
/// assembly from its modules directory; it has no compile-time reference to it.
/// </summary>
public sealed class Rtl8139Factory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "rtl8139";

    /// <inheritdoc/>
    public string Description => "Realtek RTL8139C (10EC:8139); option revision (default 0x10: Linux 8139too; 0x20 and above: 8139cp)";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings) => Create(settings, 0x10);

    /// <summary>A device with the configured <c>revision</c> option, or <paramref name="defaultRevision"/>.</summary>
    internal static Rtl8139Device Create(PersonalitySettings settings, byte defaultRevision)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions("revision");
        return new Rtl8139Device(settings.Nic, (byte)settings.GetInteger("revision", defaultRevision, 0, 255));
    }
}

/// <summary>The RTL8139C+ (revision 0x20), which Linux drives with 8139cp in C+ mode.</summary>
public sealed class Rtl8139CPlusFactory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "rtl8139cp";

    /// <inheritdoc/>
    public string Description => "Realtek RTL8139C+ (10EC:8139 revision 0x20, Linux 8139cp, C+ descriptor mode)";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings) => Rtl8139Factory.Create(settings, Rtl8139Device.CPlusRevision);
}
