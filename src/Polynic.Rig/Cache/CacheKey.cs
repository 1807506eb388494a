using System.Security.Cryptography;
using System.Text;

namespace Polynic.Rig.Cache;

/// <summary>
/// Content hashes naming cache entries. A root and an image are keyed separately, so an
/// edit of guest-image.json or the agent rebuilds the initramfs in seconds, not the root.
/// </summary>
internal static class CacheKey
{
    /// <summary>Bump when the way a root is built changes (not what it contains: that is hashed).</summary>
    public const int RootRecipeVersion = 1;

    /// <summary>Bump when the way the initramfs is assembled changes.</summary>
    public const int ImageRecipeVersion = 1;

    public static string ForRoot(GuestRigOptions options)
    {
        var text = new StringBuilder()
            .Append("root-recipe=").Append(RootRecipeVersion).Append('\n')
            .Append("suite=").Append(options.Suite).Append('\n')
            .Append("mirror=").Append(options.Mirror).Append('\n')
            .Append("qemu-suite=").Append(options.QemuSuite).Append('\n')
            .Append("kernel=").Append(options.Kernel.Package).Append('@').Append(options.Kernel.Suite ?? "").Append('\n')
            .Append("packages=").Append(string.Join(',', options.RootPackages.Order(StringComparer.Ordinal))).Append('\n');
        return Hash(Encoding.UTF8.GetBytes(text.ToString()));
    }

    public static string ForImage(string rootKey, IEnumerable<byte[]> inputs)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"image-recipe={ImageRecipeVersion}\nroot={rootKey}\n"));
        foreach (var input in inputs)
        {
            hash.AppendData(BitConverter.GetBytes(input.Length));
            hash.AppendData(input);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
}
