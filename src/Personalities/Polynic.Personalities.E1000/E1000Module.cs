using Polynic.Core.Modules;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Personalities.E1000;

/// <summary>
/// The e1000 as a run-time module: the server finds this factory when it loads the assembly
/// from its modules directory; the server has no compile-time reference to it. Its behaviour
/// also serves other 8254x identities: a personality descriptor with
/// <c>&lt;behaviour personality="e1000"/&gt;</c> gives the PCI identity, EEPROM words, PHY
/// identifier and bus (modules/e1000-82545em, modules/e1000-82544gc).
/// </summary>
public sealed class E1000Factory : IDescriptorBehaviour
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
        return settings.Descriptor is { } descriptor ? new E1000Device(settings.Nic, descriptor) : new E1000Device(settings.Nic);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The descriptor must declare BAR 0 as 128 KiB of 32-bit memory and BAR 1 as the 64-byte I/O
    /// window, no MSI or MSI-X, an interrupt pin, no register map, a 64- or 256-word EEPROM with
    /// the station address in words 0-2, and a PHY identifier; a bus is optional.
    /// </remarks>
    public IReadOnlyList<DescriptorProblem> CheckDescriptor(PersonalityDescriptor descriptor) => E1000Model.Check(descriptor);
}

/// <summary>
/// The e1000e (Intel 82574L, 8086:10D3) as a personality of the same module: the 8254x behaviour
/// with the 82574's NVM, PHY, MSI-X and receive descriptor formats (<see cref="E1000Device.Create82574L(Polynic.Core.Nic.NicSettings)"/>).
/// </summary>
public sealed class E1000eFactory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "e1000e";

    /// <inheritdoc/>
    public string Description => "Intel 82574L Gigabit Ethernet (8086:10D3), Linux e1000e";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions();
        return E1000Device.Create82574L(settings.Nic);
    }
}

/// <summary>
/// The igb (Intel 82576 physical function, 8086:10C9) as a personality of the same module: the
/// 8254x family's NVM, statistics and filters with the 82576's IGP3 PHY, 16 queue pairs with
/// advanced descriptors, RSS and MSI-X through IVAR (<see cref="Igb.IgbDevice"/>).
/// </summary>
public sealed class IgbFactory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "igb";

    /// <inheritdoc/>
    public string Description => "Intel 82576 Gigabit Ethernet (8086:10C9), Linux igb";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions();
        return new Igb.IgbDevice(settings.Nic);
    }
}
