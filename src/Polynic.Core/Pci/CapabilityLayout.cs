namespace Polynic.Core.Pci;

/// <summary>
/// Where each capability sits in configuration space and where its fields are. The list
/// starts at 0x40 (the first byte after the type-0 header) and is linked in declaration order.
/// </summary>
internal sealed class CapabilityLayout
{
    public int? PowerManagement { get; }
    public int? Msi { get; }
    public int? Msix { get; }

    /// <summary>MSI Message Data register (offset 8, or 12 with a 64-bit address).</summary>
    public int MsiData { get; }

    /// <summary>MSI Mask Bits register, when per-vector masking is offered.</summary>
    public int? MsiMask { get; }

    /// <summary>MSI Pending Bits register, when per-vector masking is offered.</summary>
    public int? MsiPending { get; }

    /// <summary>Offsets of the vendor-specific capabilities, in declaration order.</summary>
    public IReadOnlyList<int> Vendor { get; }

    public int End { get; }

    public CapabilityLayout(PciFunctionDefinition definition)
    {
        int next = ConfigRegisters.FirstCapability;
        if (definition.PowerManagement is not null) { PowerManagement = next; next += 8; }
        if (definition.Msi is { } msi)
        {
            Msi = next;
            MsiData = next + (msi.Is64Bit ? 12 : 8);
            int length = msi.Is64Bit ? 14 : 10;
            if (msi.PerVectorMasking)
            {
                MsiMask = next + (msi.Is64Bit ? 16 : 12);
                MsiPending = MsiMask + 4;
                length = MsiPending.Value + 4 - next;
            }
            next = Align4(next + length);
        }
        if (definition.Msix is not null) { Msix = next; next += 12; }
        var vendor = new int[definition.VendorCapabilities.Count];
        for (int i = 0; i < vendor.Length; i++)
        {
            vendor[i] = next;
            next = Align4(next + definition.VendorCapabilities[i].Length);
        }
        Vendor = vendor;
        End = next;
    }

    /// <summary>Capability offsets in list order.</summary>
    public IEnumerable<int> InOrder()
    {
        if (PowerManagement is { } pm) yield return pm;
        if (Msi is { } msi) yield return msi;
        if (Msix is { } msix) yield return msix;
        foreach (int v in Vendor) yield return v;
    }

    private static int Align4(int x) => (x + 3) & ~3;
}
