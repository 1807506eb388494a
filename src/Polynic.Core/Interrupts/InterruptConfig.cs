namespace Polynic.Core.Interrupts;

/// <summary>
/// The configuration-space state that governs interrupt delivery, captured by the PCI core
/// after each configuration write so that the router never reads configuration space
/// concurrently with a guest write.
/// </summary>
internal readonly record struct InterruptConfig(
    bool BusMaster,
    bool IntxDisabled,
    bool MsiEnabled,
    int MsiEnabledVectors,
    MsiMessage MsiMessage,
    uint MsiMaskBits,
    bool MsixEnabled,
    bool MsixFunctionMasked);
