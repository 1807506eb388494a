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
}
