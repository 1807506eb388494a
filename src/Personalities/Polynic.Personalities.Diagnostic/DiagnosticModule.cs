using Polynic.Core.Modules;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Personalities.Diagnostic;

/// <summary>The diagnostic function as a run-time module (not a NIC: it takes no port).</summary>
public sealed class DiagnosticFactory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "diagnostic";

    /// <inheritdoc/>
    public string Description => "Polynic diagnostic function (1234:7A01): scratch registers, DMA pattern, INTx/MSI/MSI-X triggers";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions();
        return new DiagnosticDevice();
    }
}
