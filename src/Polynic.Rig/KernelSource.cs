namespace Polynic.Rig;

/// <summary>
/// Which Debian kernel the guest boots. The package is installed into the rig's root with
/// apt, so its modules, modules.dep and vmlinuz come from the same place.
/// </summary>
/// <param name="Package">A Debian kernel package, e.g. <c>linux-image-amd64</c> (a metapackage is followed to the real image).</param>
/// <param name="Suite">The suite to take it from; <c>null</c> means the root's own suite. Another suite
/// (e.g. <c>bookworm</c> for 6.1) is added to the root's apt sources and the package alone is taken from it (<c>package/suite</c>).</param>
public sealed record KernelSource(string Package = "linux-image-amd64", string? Suite = null)
{
    /// <summary>The root suite's stock kernel (Debian trixie: 6.12).</summary>
    public static KernelSource Default { get; } = new();
}
