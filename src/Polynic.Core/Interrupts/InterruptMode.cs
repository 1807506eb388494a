namespace Polynic.Core.Interrupts;

/// <summary>Which interrupt mechanism the guest enabled in configuration space.</summary>
public enum InterruptMode
{
    /// <summary>Legacy INTx pin (level-triggered, shared).</summary>
    Intx,

    /// <summary>MSI capability enabled.</summary>
    Msi,

    /// <summary>MSI-X capability enabled.</summary>
    Msix,
}
