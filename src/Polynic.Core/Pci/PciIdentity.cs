namespace Polynic.Core.Pci;

/// <summary>
/// The read-only identity a PCI function presents in its type-0 configuration header
/// (PCI Local Bus Specification 3.0, section 6.2.1). Drivers bind on these values.
/// </summary>
/// <param name="VendorId">Offset 0x00.</param>
/// <param name="DeviceId">Offset 0x02.</param>
/// <param name="ClassCode">Offset 0x09..0x0B as one 24-bit value: base class, sub-class, programming interface (0x020000 = Ethernet controller).</param>
/// <param name="Revision">Offset 0x08.</param>
/// <param name="SubsystemVendorId">Offset 0x2C.</param>
/// <param name="SubsystemId">Offset 0x2E.</param>
/// <param name="InterruptPin">Offset 0x3D: 1 = INTA#, 0 = no INTx pin.</param>
public sealed record PciIdentity(
    ushort VendorId,
    ushort DeviceId,
    uint ClassCode,
    byte Revision = 0,
    ushort SubsystemVendorId = 0,
    ushort SubsystemId = 0,
    byte InterruptPin = 1)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{VendorId:x4}:{DeviceId:x4} rev {Revision:x2} class {ClassCode:x6} subsystem {SubsystemVendorId:x4}:{SubsystemId:x4}";
}
