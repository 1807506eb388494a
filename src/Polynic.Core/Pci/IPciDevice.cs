using Microsoft.Extensions.Logging;
using Polynic.Core.Interrupts;
using Polynic.Core.Memory;

namespace Polynic.Core.Pci;

/// <summary>
/// The device-specific part of a PCI function: what a personality implements. The core
/// (<see cref="PciFunction"/>) owns configuration space, BAR decoding, capabilities and
/// interrupt delivery, and calls the device only for accesses to its own BAR registers.
/// </summary>
/// <remarks>
/// The core serialises calls to <see cref="ReadBar"/>, <see cref="WriteBar"/> and
/// <see cref="Reset"/>; a device that also works on threads of its own must lock its state.
/// A device must not throw for any guest input: bad values are counted and ignored.
/// An exception that does escape marks the function failed; it never reaches the server.
/// </remarks>
public interface IPciDevice
{
    /// <summary>Identity, BARs and capabilities. Read once, when the function is created.</summary>
    PciFunctionDefinition Definition { get; }

    /// <summary>Called once, before any other call, with the services of the core.</summary>
    void Attach(IPciDeviceContext context);

    /// <summary>
    /// A read of <c>data.Length</c> bytes (1, 2, 4 or 8, naturally aligned in practice, but
    /// any length up to the BAR size may arrive) at <paramref name="offset"/> in BAR
    /// <paramref name="bar"/>. The core has already checked that the range lies inside the BAR
    /// and does not touch the MSI-X table or PBA. Unimplemented registers read as zero.
    /// </summary>
    void ReadBar(int bar, ulong offset, Span<byte> data);

    /// <summary>A write to BAR <paramref name="bar"/>; the same guarantees as <see cref="ReadBar"/>.</summary>
    void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// Return every register to its power-on value and stop all DMA (a function-level reset
    /// or a bus reset). Configuration space and interrupt state are reset by the core.
    /// </summary>
    void Reset();
}

/// <summary>The services the PCI core gives a device.</summary>
public interface IPciDeviceContext
{
    /// <summary>
    /// Guest memory for DMA. Accesses fail while Bus Master Enable is clear or no VMM is
    /// connected, as on real hardware, so a device never writes to memory the guest has not
    /// granted.
    /// </summary>
    IGuestMemory Dma { get; }

    /// <summary>Raises and lowers the function's interrupts in whatever mode the guest chose.</summary>
    InterruptRouter Interrupts { get; }

    /// <summary>Log for this function; its category names the device instance.</summary>
    ILogger Log { get; }

    /// <summary>
    /// Takes the function out of service after the device failed on a thread of its own (a
    /// port's receive thread, a queue worker): the same state as an exception escaping
    /// <see cref="IPciDevice.ReadBar"/>. The server and other functions carry on.
    /// </summary>
    void ReportFailure(string during, Exception exception);
}
