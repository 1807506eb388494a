using Polynic.Core.Interrupts;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The fuzzed function's interrupt controller: counts INTx edges and messages (the test machine's
/// <see cref="TestMachine.InterruptLog"/> keeps every event, which millions of steps cannot
/// afford) and checks that a message is never sent while the guest has bus mastering off (PCI 3.0,
/// 6.8: an MSI is a memory write). The harness tells it the command register after every change.
/// </summary>
internal sealed class InterruptAudit : IInterruptSink
{
    public bool EmulatesMsixTable => false;

    /// <summary>The INTx pin as the device left it.</summary>
    public bool IntxAsserted { get; private set; }

    public long IntxEdges { get; private set; }

    public long Messages { get; private set; }

    /// <summary>Bus Master Enable as the guest last set it.</summary>
    public bool BusMaster { get; set; }

    /// <summary>The first broken interrupt rule, or null.</summary>
    public string? Violation { get; private set; }

    public void SetIntx(bool asserted)
    {
        if (asserted && !IntxAsserted) IntxEdges++;
        IntxAsserted = asserted;
    }

    public void SignalMsi(int vector, MsiMessage message) => Message("MSI", vector);

    public void SignalMsix(int vector, MsiMessage message) => Message("MSI-X", vector);

    private void Message(string kind, int vector)
    {
        Messages++;
        if (!BusMaster) Violation ??= $"{kind} vector {vector} was sent with bus mastering off";
    }
}
