using Polynic.Core.Modules;
using Polynic.Core.Nic.Registers;
using Polynic.Core.Pci;

namespace Polynic.Modules.Descriptors;

/// <summary>
/// A device declared entirely by an XML descriptor, without code: its registers keep, clear and
/// ignore bits exactly as their access rules say, and reset to their declared values. Enough for
/// a device a driver only has to find and configure, and for trying a register map out before
/// writing its behaviour.
/// </summary>
public sealed class DescriptorDevice : IPciDevice
{
    // One register file per BAR that declares registers; other BARs read 0 and ignore writes.
    private readonly RegisterFile?[] _files = new RegisterFile?[6];

    /// <summary>Creates the device of <paramref name="descriptor"/>.</summary>
    public DescriptorDevice(PersonalityDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        Descriptor = descriptor;
        foreach (int bar in descriptor.Registers.Select(r => r.Bar).Distinct())
            _files[bar] = descriptor.CreateRegisterFile(bar);
    }

    /// <summary>The descriptor the device was made from.</summary>
    public PersonalityDescriptor Descriptor { get; }

    /// <inheritdoc/>
    public PciFunctionDefinition Definition => Descriptor.Definition;

    /// <inheritdoc/>
    public void Attach(IPciDeviceContext context) { }

    /// <inheritdoc/>
    public void ReadBar(int bar, ulong offset, Span<byte> data)
    {
        if (_files[bar] is { } file) file.Read(offset, data);
        else data.Clear();
    }

    /// <inheritdoc/>
    public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data) => _files[bar]?.Write(offset, data);

    /// <inheritdoc/>
    public void Reset()
    {
        foreach (var file in _files) file?.Reset();
    }
}

/// <summary>The factory of a descriptor without behaviour code.</summary>
internal sealed class DescriptorFactory(PersonalityDescriptor descriptor) : IPersonalityFactory
{
    public string Name => descriptor.Name;

    public string Description => descriptor.Description;

    public IPciDevice Create(PersonalitySettings settings)
    {
        settings.RejectUnknownOptions();
        return new DescriptorDevice(descriptor);
    }
}

/// <summary>
/// The factory of a descriptor with behaviour code: named and described by the descriptor; the
/// code's factory creates the device and finds the descriptor in its settings.
/// </summary>
internal sealed class DescribedFactory(PersonalityDescriptor descriptor, IPersonalityFactory behaviour) : IPersonalityFactory
{
    public string Name => descriptor.Name;

    public string Description => descriptor.Description;

    public IPciDevice Create(PersonalitySettings settings) =>
        behaviour.Create(new PersonalitySettings(settings.Nic, settings.Options) { Descriptor = descriptor });
}
