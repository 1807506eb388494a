using Polynic.Core.Modules;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// virtio-net as a run-time module: the server finds this factory when it loads the assembly
/// from its modules directory; the server has no compile-time reference to it.
/// </summary>
public sealed class VirtioNetFactory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "virtio-net";

    /// <inheritdoc/>
    public string Description => "virtio-net 1.x (1AF4:1041), Linux virtio_net; option queuePairs (1..16, default 1)";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions("queuePairs");
        return new VirtioNetDevice(settings.Nic, (int)settings.GetInteger("queuePairs", 1, 1, 16));
    }
}
