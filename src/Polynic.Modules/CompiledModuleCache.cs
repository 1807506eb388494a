using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Polynic.Native;

namespace Polynic.Modules;

/// <summary>
/// Compiled source modules on disk, by cache key: <c>KEY.dll</c> beside <c>KEY.sha256</c>, the
/// SHA-256 of that image as it was when this process's user compiled it. Whatever this cache
/// returns, the server runs, so it trusts only a directory no other local user can change (a
/// <see cref="PrivateDirectory"/>, created 0700, and not a shared sticky one) and only an image
/// whose hash matches its record. Otherwise the module is compiled again, and the reason logged.
/// </summary>
/// <remarks>
/// Why a plain SHA-256 record and not a keyed MAC: only the directory's owner (and root) can
/// write into it, and either could equally read or replace a key file kept beside it, so a key
/// would protect nothing the ownership check does not. The record catches an image that changed
/// after it was written (cut short by a crash, edited by hand, copied in from elsewhere, or left
/// from a time when the directory was open to others) without a key to manage. The bytes hashed
/// are the bytes returned and loaded, so nothing can change between the check and the load.
/// </remarks>
internal sealed class CompiledModuleCache(string directory, ILogger? log)
{
    // Far above any module (the NE2000 source compiles to ~30 KiB); bounds what a read allocates.
    private const long MaxImageBytes = 64L << 20;
    private const int RecordBytes = 64;

    private readonly Lock _gate = new();
    private string? _lastProblem;

    /// <summary>The directory; created when first needed.</summary>
    public string Directory { get; } = directory;

    /// <summary>The image cached under <paramref name="key"/> if it is present and intact; null otherwise.</summary>
    public byte[]? TryRead(string key)
    {
        using var cache = Open();
        if (cache is null) return null;
        string image = key + ".dll", record = key + ".sha256";
        try
        {
            using var imageFile = cache.OpenFile(image);
            using var recordFile = cache.OpenFile(record);
            if (imageFile is null) return null;
            byte[] bytes = ReadAll(imageFile, MaxImageBytes);
            if (recordFile is null)
            {
                // An entry of an older Polynic (images only), or one whose record was never written.
                log?.LogInformation("Cached module image {Image} has no recorded SHA-256; compiling the module again", cache.Combine(image));
            }
            else
            {
                byte[] recorded = ReadAll(recordFile, RecordBytes);
                byte[] expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(bytes)));
                if (CryptographicOperations.FixedTimeEquals(recorded, expected)) return bytes;
                log?.LogWarning("Cached module image {Image} does not match the SHA-256 recorded when it was compiled; compiling the module again",
                    cache.Combine(image));
            }
        }
        catch (IOException e)
        {
            log?.LogWarning("Cached module image {Image} not used ({Reason}); compiling the module again", cache.Combine(image), e.Message);
        }
        try
        {
            cache.DeleteFile(image);
            cache.DeleteFile(record);
        }
        catch (IOException)
        {
            // Written over when the module is compiled again.
        }
        return null;
    }

    /// <summary>
    /// Stores <paramref name="image"/> under <paramref name="key"/>, then its record. A cache that
    /// cannot be written (read-only /var, no permission) only costs a compilation next time.
    /// </summary>
    public void Write(string key, byte[] image)
    {
        using var cache = Open();
        if (cache is null) return;
        try
        {
            // Each file appears whole under its name (written aside, then renamed); a crash between
            // the two leaves an image without a matching record, which is compiled again.
            Place(cache, key + ".dll", image);
            Place(cache, key + ".sha256", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(image))));
        }
        catch (IOException e)
        {
            log?.LogWarning("Compiled module not cached in {Directory}: {Reason}", Directory, e.Message);
        }
    }

    private PrivateDirectory? Open()
    {
        string? problem;
        PrivateDirectory? cache = null;
        try
        {
            cache = PrivateDirectory.Open(Directory);
            problem = cache.IsShared ? $"{cache.Path} is writable by others (sticky, but shared)" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
        }
        if (problem is null) return cache;
        cache?.Dispose();
        // Once per distinct problem: loading a directory of modules would repeat it for each.
        lock (_gate)
        {
            if (problem == _lastProblem) return null;
            _lastProblem = problem;
        }
        log?.LogWarning("Module cache not used, source modules are compiled on every load: {Reason}", problem);
        return null;
    }

    private static void Place(PrivateDirectory cache, string name, byte[] contents)
    {
        string aside = $"{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = cache.CreateFile(aside)) RandomAccess.Write(file, contents, 0);
            cache.Rename(aside, name);
        }
        catch
        {
            try { cache.DeleteFile(aside); }
            catch (IOException) { }
            throw;
        }
    }

    private static byte[] ReadAll(SafeFileHandle file, long limit)
    {
        long length = RandomAccess.GetLength(file);
        if (length > limit) throw new IOException($"larger than {limit} bytes");
        var bytes = new byte[length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(file, bytes.AsSpan(read), read);
            if (n == 0) throw new IOException("shorter than its length");
            read += n;
        }
        return bytes;
    }
}
