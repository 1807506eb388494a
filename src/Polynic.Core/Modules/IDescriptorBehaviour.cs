namespace Polynic.Core.Modules;

/// <summary>
/// A personality whose behaviour other descriptors may reuse under another identity: a descriptor
/// names it with <c>&lt;behaviour personality="NAME"/&gt;</c>, and the devices it creates take
/// their PCI identity, EEPROM, PHY and bus from that descriptor
/// (<see cref="PersonalitySettings.Descriptor"/>) instead of the personality's own. The server
/// asks <see cref="CheckDescriptor"/> when it loads the descriptor and refuses it, with the
/// position of each problem, if the behaviour cannot serve it.
/// </summary>
/// <remarks>A factory without this interface cannot be named by another descriptor.</remarks>
public interface IDescriptorBehaviour : IPersonalityFactory
{
    /// <summary>
    /// What in <paramref name="descriptor"/> this behaviour cannot serve (a BAR of the wrong kind
    /// or size, a register map it does not take, a missing EEPROM or PHY, a value out of its
    /// range); empty when it can. Must not throw for any descriptor the reader accepted.
    /// </summary>
    /// <param name="descriptor">A descriptor that passed the schema and the reader's own checks.</param>
    /// <returns>The problems, each with the part of the descriptor it concerns.</returns>
    IReadOnlyList<DescriptorProblem> CheckDescriptor(PersonalityDescriptor descriptor);
}

/// <summary>One thing a behaviour cannot serve in a descriptor.</summary>
/// <param name="Part">The part of the descriptor concerned; the server reports the position of its element.</param>
/// <param name="Message">What is wrong, for example <c>"BAR 0 must be a 128 KiB memory BAR"</c>.</param>
public sealed record DescriptorProblem(DescriptorPart Part, string Message);

/// <summary>The parts of a personality descriptor, one per element of the schema.</summary>
public enum DescriptorPart
{
    /// <summary>The &lt;personality&gt; element itself (name, description).</summary>
    Personality,

    /// <summary>&lt;pci&gt;: vendor, device, class, revision, subsystem, interrupt pin.</summary>
    Pci,

    /// <summary>The &lt;bar&gt; elements.</summary>
    Bars,

    /// <summary>&lt;capabilities&gt;: power management, MSI, MSI-X.</summary>
    Capabilities,

    /// <summary>The &lt;registers&gt; maps.</summary>
    Registers,

    /// <summary>&lt;eeprom&gt;: size, words, station address and checksum.</summary>
    Eeprom,

    /// <summary>&lt;phy&gt;: the PHY identifier.</summary>
    Phy,

    /// <summary>&lt;bus&gt;: the reported PCI bus width and clock.</summary>
    Bus,

    /// <summary>&lt;behaviour&gt;: which code supplies the behaviour.</summary>
    Behaviour,
}
