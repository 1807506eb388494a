namespace Polynic.Core.Pci;

/// <summary>
/// Everything the PCI core needs to present a function on the bus: identity, BARs and
/// capabilities. A personality declares this; the core builds config space, the capability
/// list, BAR sizing, MSI/MSI-X and INTx plumbing from it, so the personality never writes them.
/// </summary>
public sealed record PciFunctionDefinition
{
    /// <summary>Identity registers of the configuration header.</summary>
    public required PciIdentity Identity { get; init; }

    /// <summary>Implemented BARs; indices must not overlap (a 64-bit BAR takes two).</summary>
    public IReadOnlyList<BarDefinition> Bars { get; init; } = [];

    /// <summary>MSI capability, if offered.</summary>
    public MsiCapability? Msi { get; init; }

    /// <summary>MSI-X capability, if offered.</summary>
    public MsixCapability? Msix { get; init; }

    /// <summary>Power-management capability, if offered.</summary>
    public PowerManagementCapability? PowerManagement { get; init; }

    /// <summary>Vendor-specific capabilities (ID 0x09), linked after the others in declaration order.</summary>
    public IReadOnlyList<VendorCapability> VendorCapabilities { get; init; } = [];

    /// <summary>
    /// This definition with no MSI-X capability: the guest finds MSI (if declared) and INTx only.
    /// The BARs stay as declared, so the personality's register map does not move; the BAR range
    /// that held the table and PBA then reaches the device like any other register access.
    /// </summary>
    public PciFunctionDefinition WithoutMsix() => this with { Msix = null };

    /// <summary>The BAR with this index, or null if the function does not implement it.</summary>
    public BarDefinition? FindBar(int index) => Bars.FirstOrDefault(b => b.Index == index);

    /// <summary>Checks internal consistency; throws <see cref="ArgumentException"/> naming the problem.</summary>
    public void Validate()
    {
        var used = new bool[6];
        foreach (var bar in Bars)
        {
            bar.Validate();
            int slots = bar.Kind == BarKind.Memory64 ? 2 : 1;
            for (int i = bar.Index; i < bar.Index + slots; i++)
            {
                if (used[i]) throw new ArgumentException($"BAR slot {i} is declared twice.");
                used[i] = true;
            }
        }
        if (Msi is { } msi && (msi.Vectors is < 1 or > 32 || (msi.Vectors & (msi.Vectors - 1)) != 0))
            throw new ArgumentException($"MSI vector count {msi.Vectors} must be a power of two, 1..32.");
        if (Msix is { } msix)
        {
            if (msix.Vectors is < 1 or > 2048)
                throw new ArgumentException($"MSI-X vector count {msix.Vectors} must be 1..2048.");
            CheckMsixStructure("table", msix.TableBar, msix.TableOffset, msix.TableSize);
            CheckMsixStructure("PBA", msix.PbaBar, msix.PbaOffset, msix.PbaSize);
            bool overlap = msix.TableBar == msix.PbaBar
                && msix.TableOffset < msix.PbaOffset + msix.PbaSize
                && msix.PbaOffset < msix.TableOffset + msix.TableSize;
            if (overlap) throw new ArgumentException("MSI-X table and PBA overlap.");
        }
        foreach (var vendor in VendorCapabilities)
        {
            if (vendor.Body.Length is < 1 or > 252)
                throw new ArgumentException($"A vendor-specific capability body of {vendor.Body.Length} bytes must be 1..252.");
            if (vendor.Writable is { } writable && writable.Length != vendor.Body.Length)
                throw new ArgumentException("A vendor-specific capability's writable mask must be as long as its body.");
            if (vendor.Window is { } w && (w.BarField < 2 || w.OffsetField < 2 || w.LengthField < 2 || w.DataField < 2
                || Math.Max(Math.Max(w.BarField + 1, w.OffsetField + 4), Math.Max(w.LengthField + 4, w.DataField + BarWindow.DataLength)) > vendor.Length))
                throw new ArgumentException("A BAR window's fields must lie in the capability's body.");
        }
        var layout = new CapabilityLayout(this);
        if (layout.End > PciFunction.ConfigSpaceSize)
            throw new ArgumentException($"The capabilities need {layout.End - ConfigRegisters.FirstCapability} bytes; configuration space has {PciFunction.ConfigSpaceSize - ConfigRegisters.FirstCapability} after the header.");
    }

    private void CheckMsixStructure(string what, int barIndex, uint offset, uint size)
    {
        var bar = FindBar(barIndex) ?? throw new ArgumentException($"MSI-X {what} is in BAR {barIndex}, which is not declared.");
        if (bar.Kind == BarKind.Io) throw new ArgumentException($"MSI-X {what} must be in a memory BAR, not I/O BAR {barIndex}.");
        if (offset % 8 != 0) throw new ArgumentException($"MSI-X {what} offset 0x{offset:x} is not 8-byte aligned.");
        if ((ulong)offset + size > bar.Size)
            throw new ArgumentException($"MSI-X {what} (0x{offset:x}+0x{size:x}) does not fit in BAR {barIndex} of size 0x{bar.Size:x}.");
    }
}
