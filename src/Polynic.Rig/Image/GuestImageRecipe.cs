using System.Reflection;
using System.Text.Json;

namespace Polynic.Rig.Image;

/// <summary>An extra file copied from the root into the initramfs.</summary>
/// <param name="Path">Absolute path inside the root, kept the same in the guest.</param>
/// <param name="Optional">Skip silently if the root lacks it.</param>
internal sealed record RecipeFile(string Path, bool Optional = false);

/// <summary>
/// The declarative contents of the guest initramfs, read from guest-image.json (embedded
/// in this assembly): which kernel modules to load and which tools to carry.
/// </summary>
internal sealed record GuestImageRecipe(
    IReadOnlyList<string> Modules,
    string Busybox,
    IReadOnlyList<string> Tools,
    IReadOnlyList<RecipeFile> Files)
{
    public const string ResourceName = "Polynic.Rig.guest-image.json";

    public static GuestImageRecipe Parse(byte[] json)
        => JsonSerializer.Deserialize(json, RigJson.Default.GuestImageRecipe)
           ?? throw new RigException("guest-image.json is empty.");

    /// <summary>The raw bytes of an embedded rig resource (recipe or agent script).</summary>
    public static byte[] ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new RigException($"The rig assembly lacks its resource {name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
