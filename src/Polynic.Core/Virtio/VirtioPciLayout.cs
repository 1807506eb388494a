using System.Buffers.Binary;
using Polynic.Core.Pci;

namespace Polynic.Core.Virtio;

/// <summary>
/// Where the virtio 1.x PCI transport puts its structures (virtio 1.2, 4.1.4): one 32-bit memory
/// BAR 0 with common configuration, ISR, device configuration and notifications at 4 KiB apart,
/// each announced by a vendor-specific capability, plus the configuration-space access window
/// (VIRTIO_PCI_CAP_PCI_CFG); the MSI-X table and PBA in memory BAR 1 (served by the PCI core).
/// </summary>
public static class VirtioPciLayout
{
    /// <summary>BAR holding the virtio structures.</summary>
    public const int StructuresBar = 0;
    /// <summary>BAR holding the MSI-X table and PBA.</summary>
    public const int MsixBar = 1;
    /// <summary>Size of BAR 0, which holds the common, ISR, device-specific and notification structures.</summary>
    public const ulong StructuresBarSize = 0x4000;

    /// <summary>Offset of virtio_pci_common_cfg in BAR 0.</summary>
    public const uint CommonOffset = 0x0000;
    /// <summary>Length of the common configuration (up to queue_reset, 1.2, padded).</summary>
    public const uint CommonLength = 0x40;
    /// <summary>Offset of the ISR status byte.</summary>
    public const uint IsrOffset = 0x1000;
    /// <summary>Offset of the device configuration.</summary>
    public const uint DeviceOffset = 0x2000;
    /// <summary>Largest device configuration.</summary>
    public const uint DeviceLength = 0x1000;
    /// <summary>Offset of the notification area: queue q is notified at NotifyOffset + q × <see cref="NotifyMultiplier"/>.</summary>
    public const uint NotifyOffset = 0x3000;
    /// <summary>Bytes between the notification addresses of consecutive queues: the notify capability's notify_off_multiplier (virtio 1.2, 4.1.4.4).</summary>
    public const uint NotifyMultiplier = 4;

    private const byte CfgCommon = 1, CfgNotify = 2, CfgIsr = 3, CfgDevice = 4, CfgPci = 5;

    /// <summary>
    /// The PCI function of a modern virtio device of type <paramref name="deviceType"/> (PCI device
    /// ID 0x1040 + type, revision 1, 4.1.2.1), with <paramref name="msixVectors"/> MSI-X vectors,
    /// <paramref name="queues"/> queues and <paramref name="configSize"/> bytes of device configuration.
    /// </summary>
    public static PciFunctionDefinition Create(ushort deviceType, uint classCode, int queues, int msixVectors, int configSize,
        ushort subsystemId = 0x1100)
    {
        if (queues is < 1 or > (int)((StructuresBarSize - NotifyOffset) / NotifyMultiplier))
            throw new ArgumentOutOfRangeException(nameof(queues));
        if (configSize is < 0 or > (int)DeviceLength) throw new ArgumentOutOfRangeException(nameof(configSize));
        uint table = (uint)msixVectors * 16;
        uint msixBarSize = 0x1000;
        while (msixBarSize < 2 * table) msixBarSize <<= 1;
        var caps = new List<VendorCapability>
        {
            Capability(CfgCommon, CommonOffset, CommonLength),
            Capability(CfgNotify, NotifyOffset, (uint)queues * NotifyMultiplier, NotifyMultiplier),
            Capability(CfgIsr, IsrOffset, 4),
        };
        if (configSize > 0) caps.Add(Capability(CfgDevice, DeviceOffset, (uint)configSize));
        caps.Add(PciConfigurationAccess());
        return new PciFunctionDefinition
        {
            Identity = new PciIdentity(VendorId: 0x1AF4, DeviceId: (ushort)(0x1040 + deviceType), ClassCode: classCode,
                Revision: 1, SubsystemVendorId: 0x1AF4, SubsystemId: subsystemId, InterruptPin: 1),
            Bars =
            [
                new BarDefinition(StructuresBar, BarKind.Memory32, StructuresBarSize),
                new BarDefinition(MsixBar, BarKind.Memory32, msixBarSize),
            ],
            Msix = new MsixCapability(msixVectors, MsixBar, 0, MsixBar, msixBarSize / 2),
            VendorCapabilities = caps,
        };
    }

    /// <summary>
    /// struct virtio_pci_cfg_cap (4.1.4.9), which the device MUST present: an access window onto
    /// the BARs through configuration space (bar, offset and length written by the driver, then
    /// pci_cfg_data read or written). iPXE refuses a modern virtio device without it, and uses it
    /// when it cannot map the BAR.
    /// </summary>
    private static VendorCapability PciConfigurationAccess()
    {
        // cap_len, cfg_type, bar, id, padding[2], offset, length, pci_cfg_data (from offset 2 of the capability).
        var body = new byte[18];
        body[0] = (byte)(body.Length + 2);
        body[1] = CfgPci;
        var writable = new byte[body.Length];
        writable[2] = 0xFF;                        // bar
        writable.AsSpan(6, 12).Fill(0xFF);         // offset, length, pci_cfg_data
        return new VendorCapability(body)
        {
            Writable = writable,
            Window = new BarWindow(BarField: 4, OffsetField: 8, LengthField: 12, DataField: 16),
        };
    }

    /// <summary>struct virtio_pci_cap (4.1.4) from cap_len on; the notify capability adds the multiplier.</summary>
    private static VendorCapability Capability(byte type, uint offset, uint length, uint? multiplier = null)
    {
        var body = new byte[multiplier is null ? 14 : 18];
        body[0] = (byte)(body.Length + 2);   // cap_len
        body[1] = type;                      // cfg_type
        body[2] = StructuresBar;             // bar
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(6), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(10), length);
        if (multiplier is { } m) BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(14), m);
        return new VendorCapability(body);
    }
}
