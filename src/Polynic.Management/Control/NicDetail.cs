using Polynic.Management.Hosting;

namespace Polynic.Management.Control;

/// <summary>A NIC in full: what <see cref="NicStatus"/> says, and what the VMM, the guest and the traffic have done to it.</summary>
/// <param name="Name">The NIC's name.</param>
/// <param name="Personality">The personality it was created from.</param>
/// <param name="Module">The module that provides the personality.</param>
/// <param name="Socket">Its vfio-user socket.</param>
/// <param name="Port">Where its frames go (the real port's name).</param>
/// <param name="State">"serving" or "failed".</param>
/// <param name="Reason">Why it failed.</param>
/// <param name="Connected">Whether a VMM is connected.</param>
/// <param name="ConnectedSince">When the connected VMM connected.</param>
/// <param name="Msix">Whether the guest is offered MSI-X.</param>
/// <param name="HotUnplug">Null when the card can be hot-unplugged safely; otherwise what goes wrong.</param>
/// <param name="Mac">The station address it was created with.</param>
/// <param name="Pci">Its PCI identity.</param>
/// <param name="Interrupts">The interrupt mechanism the guest enabled.</param>
/// <param name="DmaRegions">Guest memory regions the VMM has given the device (0 without a VMM).</param>
/// <param name="DmaMappedRegions">Of those, regions mapped into the server; the others go through DMA messages.</param>
/// <param name="DmaBytes">Bytes of guest memory the regions cover.</param>
/// <param name="Link">The link: the port's carrier, the cable, and what the guest sees.</param>
/// <param name="Counters">The NIC core's counters (ethtool-style names).</param>
/// <param name="PortCounters">The real port's counters, if the NIC has a port.</param>
/// <param name="PortLayers">Every layer of the port stack from the NIC's side to the wire, with its counters.</param>
/// <param name="Captures">Captures recording this NIC now.</param>
public sealed record NicDetail(string Name, string Personality, string Module, string Socket, string? Port, string State, string? Reason,
    bool Connected, DateTimeOffset? ConnectedSince, bool Msix, string? HotUnplug, string? Mac, PciInfo Pci, InterruptInfo Interrupts,
    int DmaRegions, int DmaMappedRegions, ulong DmaBytes, LinkInfo Link, IReadOnlyDictionary<string, long> Counters,
    IReadOnlyDictionary<string, long>? PortCounters, IReadOnlyList<PortLayer> PortLayers, int Captures);

/// <summary>A PCI identity in hexadecimal, as lspci prints it.</summary>
public sealed record PciInfo(string VendorId, string DeviceId, string SubsystemVendorId, string SubsystemId, string ClassCode, string Revision);

/// <summary>The interrupt mechanism the guest enabled.</summary>
/// <param name="Mode">intx, msi or msix.</param>
/// <param name="Vectors">Vectors enabled (the MSI-X table's size, MSI's enabled vectors, 1 for an enabled INTx pin, 0 for none).</param>
/// <param name="Dropped">Interrupts that could not be delivered (bus mastering off, no VMM, masked by a bad source).</param>
public sealed record InterruptInfo(string Mode, int Vectors, long Dropped);

/// <summary>A NIC's link.</summary>
/// <param name="Carrier">Whether the port has carrier.</param>
/// <param name="Cable">Whether the cable is plugged in (management's link toggle).</param>
/// <param name="Up">What the guest sees: carrier and cable.</param>
public sealed record LinkInfo(bool Carrier, bool Cable, bool Up);

/// <summary>A switch: its ports and what it has learned.</summary>
public sealed record SwitchInfo(string Name, IReadOnlyList<SwitchPortInfo> Ports, IReadOnlyList<MacTableRow> MacTable, IReadOnlyDictionary<string, long> Counters);

/// <summary>A switch port.</summary>
/// <param name="Name">The port's name (the NIC's, for a NIC's port).</param>
/// <param name="Mode">access or trunk.</param>
/// <param name="Vlan">The access VLAN.</param>
/// <param name="Trunk">The VLANs a trunk carries.</param>
/// <param name="LinkUp">Whether the port is enabled and its switch running.</param>
/// <param name="Counters">Its counters.</param>
public sealed record SwitchPortInfo(string Name, string Mode, ushort? Vlan, IReadOnlyList<ushort>? Trunk, bool LinkUp, IReadOnlyDictionary<string, long> Counters);

/// <summary>One learned address.</summary>
public sealed record MacTableRow(string Mac, ushort Vlan, string Port, double AgeSeconds);
