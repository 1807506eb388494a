using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Interrupts;
using Polynic.Core.Memory;

namespace Polynic.Core.Pci;

/// <summary>
/// One PCI function as a transport sees it: configuration space, BARs, interrupts and
/// DMA, with the device-specific part supplied by an <see cref="IPciDevice"/>. Transports
/// (the vfio-user server, the in-process test machine) call only this class.
/// </summary>
public sealed partial class PciFunction
{
    /// <summary>Size of conventional PCI configuration space.</summary>
    public const int ConfigSpaceSize = 256;

    /// <summary>Creates the function and attaches the device to the core's services.</summary>
    public PciFunction(IPciDevice device, string name, ILoggerFactory? loggerFactory = null)
    {
        throw new NotImplementedException();
    }

    /// <summary>Instance name used in logs and errors.</summary>
    public string Name { get; } = "";

    /// <summary>The device's declaration.</summary>
    public PciFunctionDefinition Definition { get; } = null!;

    /// <summary>The function's interrupt state machine.</summary>
    public InterruptRouter Interrupts { get; } = null!;

    /// <summary>Non-null once the device threw; the function then ignores BAR accesses.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Reads configuration space; false if the range is outside it.</summary>
    public bool ReadConfig(int offset, Span<byte> data) => throw new NotImplementedException();

    /// <summary>Writes configuration space honouring write masks and W1C bits; false if the range is outside it.</summary>
    public bool WriteConfig(int offset, ReadOnlySpan<byte> data) => throw new NotImplementedException();

    /// <summary>Reads a BAR; false if the BAR is not implemented or the range is outside it.</summary>
    public bool ReadBar(int bar, ulong offset, Span<byte> data) => throw new NotImplementedException();

    /// <summary>Writes a BAR; false if the BAR is not implemented or the range is outside it.</summary>
    public bool WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data) => throw new NotImplementedException();

    /// <summary>Function-level reset: configuration space, interrupt state and the device return to power-on values.</summary>
    public void Reset() => throw new NotImplementedException();

    /// <summary>A VMM connected: DMA and interrupts now reach it.</summary>
    public void Connect(IGuestMemory memory, IInterruptSink sink) => throw new NotImplementedException();

    /// <summary>The VMM went away: DMA fails and interrupts are dropped until the next <see cref="Connect"/>; device state is kept.</summary>
    public void Disconnect() => throw new NotImplementedException();
}
