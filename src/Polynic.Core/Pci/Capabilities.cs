namespace Polynic.Core.Pci;

/// <summary>
/// MSI capability (PCI 3.0, section 6.8.1) the function offers.
/// </summary>
/// <param name="Vectors">Vectors requested (Multiple Message Capable): 1, 2, 4, 8, 16 or 32.</param>
/// <param name="Is64Bit">Whether the capability carries a 64-bit message address.</param>
/// <param name="PerVectorMasking">Whether mask and pending bits are implemented.</param>
public sealed record MsiCapability(int Vectors = 1, bool Is64Bit = true, bool PerVectorMasking = false);

/// <summary>
/// MSI-X capability (PCI 3.0, section 6.8.2): the table and pending-bit array live in
/// memory BARs of the function; the core serves them, the device never sees those accesses.
/// </summary>
/// <param name="Vectors">Table size, 1..2048.</param>
/// <param name="TableBar">BAR holding the table (a memory BAR of the function).</param>
/// <param name="TableOffset">Offset of the table in that BAR, 8-byte aligned.</param>
/// <param name="PbaBar">BAR holding the pending-bit array.</param>
/// <param name="PbaOffset">Offset of the PBA in that BAR, 8-byte aligned.</param>
public sealed record MsixCapability(int Vectors, int TableBar, uint TableOffset, int PbaBar, uint PbaOffset)
{
    /// <summary>Bytes the table occupies: 16 per vector.</summary>
    public uint TableSize => (uint)Vectors * 16;

    /// <summary>Bytes the PBA occupies: one bit per vector, in whole quadwords.</summary>
    public uint PbaSize => (uint)((Vectors + 63) / 64 * 8);
}

/// <summary>PCI Power Management capability (PCI Bus Power Management Interface 1.2): D0 and D3hot.</summary>
public sealed record PowerManagementCapability;

/// <summary>
/// A vendor-specific capability (PCI 3.0, section 6.7 and appendix H, capability ID 0x09): the
/// core links it into the capability list and serves its bytes read-only. Virtio's PCI transport
/// (virtio 1.2, 4.1.4) describes its register structures this way.
/// </summary>
/// <param name="Body">
/// The capability from offset 2 on (after the ID and next pointer). By convention byte 0 of the body
/// (offset 2 of the capability) is the capability length, which the caller sets; 1..252 bytes.
/// </param>
public sealed record VendorCapability(byte[] Body)
{
    /// <summary>Bytes the capability occupies in configuration space (ID, next pointer and body).</summary>
    public int Length => 2 + Body.Length;

    /// <summary>Bits of the body the driver may write, byte for byte (null: all read-only). Core-internal: virtio's PCI_CFG window.</summary>
    internal byte[]? Writable { get; init; }

    /// <summary>Makes the capability a window onto the function's BARs (null: a plain capability).</summary>
    internal BarWindow? Window { get; init; }
}

/// <summary>
/// A window in a vendor-specific capability through which configuration accesses reach a BAR,
/// as virtio's VIRTIO_PCI_CAP_PCI_CFG capability (virtio 1.2, 4.1.4.9): the driver writes a BAR
/// number, an offset and a length (1, 2 or 4) into the capability; reading the 4-byte data field
/// then reads that many bytes of the BAR at that offset into it, and writing the data field writes
/// its first length bytes there. It is how firmware that cannot map a BAR (iPXE, for a BAR above
/// 4 GiB) reaches the device's registers. Field positions count from the capability's first byte.
/// </summary>
internal sealed record BarWindow(int BarField, int OffsetField, int LengthField, int DataField)
{
    /// <summary>Bytes of the data field.</summary>
    public const int DataLength = 4;
}
