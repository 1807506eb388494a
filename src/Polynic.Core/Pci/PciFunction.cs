using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Interrupts;
using Polynic.Core.Memory;

namespace Polynic.Core.Pci;

/// <summary>
/// One PCI function as a transport sees it: configuration space, BARs, interrupts and DMA,
/// with the device-specific part supplied by an <see cref="IPciDevice"/>. Transports (the
/// vfio-user server, the in-process test machine) call only this class; the device sees only
/// its own BAR registers and the services of <see cref="IPciDeviceContext"/>.
/// </summary>
/// <remarks>
/// Configuration and BAR accesses and resets are serialised by one lock. An exception from
/// the device marks the function failed (<see cref="FailureReason"/>): from then on its BARs
/// read as all ones and ignore writes, like a function that stopped responding, while the
/// rest of the server carries on.
/// </remarks>
public sealed partial class PciFunction
{
    /// <summary>Size of conventional PCI configuration space.</summary>
    public const int ConfigSpaceSize = 256;

    private readonly object _gate = new();
    private readonly IPciDevice _device;
    private readonly ILogger _log;
    private readonly ConfigSpace _config = new();
    private readonly CapabilityLayout _layout;
    private readonly BusMasterMemory _dma = new();
    private readonly BarDefinition?[] _barByIndex = new BarDefinition?[6];

    /// <summary>Creates the function and attaches the device to the core's services.</summary>
    /// <param name="device">The device-specific part.</param>
    /// <param name="name">Instance name for logs and errors, e.g. "nic0".</param>
    /// <param name="loggerFactory">Where logs go; none by default.</param>
    /// <param name="offerMsix">
    /// False to present the function without its MSI-X capability even if the device declares
    /// one (<see cref="PciFunctionDefinition.WithoutMsix"/>): QEMU 10.2 to 11.1 abort when a
    /// vfio-user device with MSI-X is hot-unplugged, so a VM that must survive an unplug takes
    /// the card with MSI or INTx instead.
    /// </param>
    /// <exception cref="ArgumentException">The device's definition is inconsistent (the message says how).</exception>
    public PciFunction(IPciDevice device, string name, ILoggerFactory? loggerFactory = null, bool offerMsix = true)
    {
        _device = device;
        Name = name;
        Definition = offerMsix ? device.Definition : device.Definition.WithoutMsix();
        Definition.Validate();
        var factory = loggerFactory ?? NullLoggerFactory.Instance;
        _log = factory.CreateLogger($"Polynic.Pci.{name}");
        _layout = new CapabilityLayout(Definition);
        foreach (var bar in Definition.Bars) _barByIndex[bar.Index] = bar;
        Interrupts = new InterruptRouter(Definition.Msi?.Vectors ?? 0, Definition.Msix?.Vectors ?? 0, _log);
        BuildConfigSpace();
        _device.Attach(new DeviceContext(this, _dma, Interrupts, factory.CreateLogger($"Polynic.Device.{name}")));
    }

    /// <summary>Instance name used in logs and errors.</summary>
    public string Name { get; }

    /// <summary>Identity, BARs and capabilities the device declared, read once when the function was created.</summary>
    public PciFunctionDefinition Definition { get; }

    /// <summary>The function's interrupt state machine.</summary>
    public InterruptRouter Interrupts { get; }

    /// <summary>The device-specific part, for diagnostics and tests.</summary>
    public IPciDevice Device => _device;

    /// <summary>DMA accesses refused because bus mastering was off or no VMM was connected.</summary>
    public long RefusedDmaCount => _dma.RefusedCount;

    /// <summary>Non-null once the device threw; the function then ignores BAR accesses.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>A VMM connected: DMA and interrupts now reach it.</summary>
    public void Connect(IGuestMemory memory, IInterruptSink sink)
    {
        lock (_gate)
        {
            _dma.Connect(memory);
            Interrupts.Connect(sink);
        }
    }

    /// <summary>
    /// The VMM went away: DMA fails and interrupts are dropped until the next
    /// <see cref="Connect"/>. Device and configuration state are kept, so a VMM that
    /// reconnects finds the function as it left it.
    /// </summary>
    public void Disconnect()
    {
        lock (_gate)
        {
            _dma.Connect(null);
            Interrupts.Disconnect();
        }
    }

    /// <summary>
    /// Function-level reset: configuration space, interrupt state and the device return to
    /// their power-on values. A failed function stays failed.
    /// </summary>
    public void Reset()
    {
        lock (_gate)
        {
            _config.Reset();
            Interrupts.Reset();
            ApplyConfig();
            if (FailureReason is not null) return;
            try
            {
                _device.Reset();
            }
            catch (Exception e)
            {
                Fail("reset", e);
            }
        }
    }

    /// <summary>Takes the function out of service after the device threw; the server and other functions carry on.</summary>
    private void Fail(string what, Exception e)
    {
        FailureReason = $"{what} threw {e.GetType().Name}: {e.Message}";
        _log.LogError(e, "Device {Name} failed during {What}; it is now out of service", Name, what);
    }

    private sealed record DeviceContext(PciFunction Function, IGuestMemory Dma, InterruptRouter Interrupts, ILogger Log) : IPciDeviceContext
    {
        public void ReportFailure(string during, Exception exception)
        {
            if (Function.FailureReason is null) Function.Fail(during, exception);
        }
    }
}
