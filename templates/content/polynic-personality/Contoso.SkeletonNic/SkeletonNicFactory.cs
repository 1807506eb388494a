using System.Globalization;
using Polynic.Core.Modules;
using Polynic.Core.Pci;

// Marks the assembly as a Polynic module built for this SDK version; a server refuses an
// assembly without it, or one built for an SDK it cannot serve, before running any of its code.
[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Contoso.SkeletonNic;

/// <summary>
/// Creates <see cref="SkeletonNicDevice"/>s. The server finds this class when it loads the module
/// and calls <see cref="Create"/> once for every NIC whose configuration names the personality
/// <c>skeletonnic</c>.
/// </summary>
public sealed class SkeletonNicFactory : IPersonalityFactory
{
    /// <summary>
    /// The option that sets the PCI revision ID; a configuration gives it as an attribute:
    /// <c>&lt;nic personality="skeletonnic" revision="2" ...&gt;</c>.
    /// </summary>
    public const string RevisionOption = "revision";

    /// <inheritdoc/>
    public string Name => "skeletonnic";

    /// <inheritdoc/>
    public string Description => $"SkeletonNic ({SkeletonNicDevice.VendorId:x4}:{SkeletonNicDevice.DeviceId:x4}); option {RevisionOption} (default {SkeletonNicDevice.DefaultRevision})";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new SkeletonNicDevice(settings.Nic, ParseRevision(settings.GetOption(RevisionOption)));
    }

    private static byte ParseRevision(string? text)
    {
        if (string.IsNullOrEmpty(text)) return SkeletonNicDevice.DefaultRevision;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return byte.TryParse(hex ? text[2..] : text, hex ? NumberStyles.HexNumber : NumberStyles.Integer, CultureInfo.InvariantCulture, out byte value)
            ? value
            : throw new ArgumentException($"option {RevisionOption}='{text}' is not a byte (for example 2 or 0x02)");
    }
}
