namespace Polynic.Core.Interrupts;

/// <summary>
/// Turns a device's interrupt requests into INTx, MSI or MSI-X according to what the guest
/// enabled, applying Interrupt Disable, Bus Master Enable and vector masks.
/// </summary>
public sealed class InterruptRouter
{
    /// <summary>The mode the guest enabled.</summary>
    public InterruptMode Mode => throw new NotImplementedException();

    /// <summary>The INTx pin level as last reported to the sink (after Interrupt Disable).</summary>
    public bool IntxPinAsserted => throw new NotImplementedException();

    /// <summary>Sets the level of interrupt source <paramref name="vector"/>.</summary>
    public void SetLevel(int vector, bool asserted) => throw new NotImplementedException();

    /// <summary>Sends one message on <paramref name="vector"/> (MSI/MSI-X).</summary>
    public void Notify(int vector) => throw new NotImplementedException();
}
