namespace Polynic.Core.Interrupts;

/// <summary>An MSI or MSI-X message as programmed by the guest: a DWORD write of <paramref name="Data"/> to <paramref name="Address"/>.</summary>
public readonly record struct MsiMessage(ulong Address, uint Data);

/// <summary>
/// Where a function's interrupts leave the device: implemented by each transport (the
/// vfio-user server signals the eventfds the VMM handed over; the in-process test machine
/// records them). The PCI core has already applied the function's interrupt mode, Interrupt
/// Disable, Bus Master Enable and (unless <see cref="EmulatesMsixTable"/>) MSI-X masking.
/// </summary>
/// <remarks>Calls may come from any thread, including several at once.</remarks>
public interface IInterruptSink
{
    /// <summary>
    /// True when the VMM emulates the MSI-X table and PBA itself and applies vector masks
    /// (QEMU's vfio-user client does); the core then hands every MSI-X message over unmasked.
    /// </summary>
    bool EmulatesMsixTable { get; }

    /// <summary>The INTx pin's new level; called only when it changes.</summary>
    void SetIntx(bool asserted);

    /// <summary>Deliver MSI vector <paramref name="vector"/> (0-based, below the enabled count).</summary>
    void SignalMsi(int vector, MsiMessage message);

    /// <summary>Deliver MSI-X vector <paramref name="vector"/>.</summary>
    void SignalMsix(int vector, MsiMessage message);
}
