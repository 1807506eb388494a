using Polynic.Core.Pci;

namespace Polynic.Core.Modules;

/// <summary>
/// Creates devices of one personality. A module exports one public, non-abstract class with a
/// public parameterless constructor per personality it provides; the server instantiates each
/// when the module is loaded and calls <see cref="Create"/> once per NIC a configuration declares.
/// </summary>
/// <remarks>
/// The constructor should do no more than set fields: an exception from it fails the whole
/// module (the server reports the file and the message and goes on with other modules).
/// <see cref="Create"/> may be called from any thread, concurrently.
/// </remarks>
public interface IPersonalityFactory
{
    /// <summary>
    /// The name a configuration uses to ask for this personality, for example <c>"e1000"</c>.
    /// Compared case-insensitively; must be unique among all personalities the server knows.
    /// </summary>
    string Name { get; }

    /// <summary>One line for operators: the hardware emulated, for example <c>"Intel 82540EM (8086:100E)"</c>.</summary>
    string Description { get; }

    /// <summary>Creates a new device, not yet attached to a PCI function.</summary>
    /// <param name="settings">The station address and the personality's options from the configuration.</param>
    /// <returns>A new device; never one shared with another NIC.</returns>
    /// <exception cref="ArgumentException">An option has a value the personality does not accept; the message names it.</exception>
    IPciDevice Create(PersonalitySettings settings);
}
