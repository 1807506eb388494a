using System.Security.Cryptography;
using System.Text;
using Polynic.Native;

namespace Polynic.Management.Http;

/// <summary>
/// The secret every API request carries (<c>Authorization: Bearer TOKEN</c>), kept in a file only
/// its owner can read, as a notebook server's token is.
/// </summary>
internal sealed class AccessToken : IDisposable
{
    private readonly byte[] _value;
    private readonly string? _createdFile;

    private AccessToken(string value, string file, bool created)
    {
        Value = value;
        _value = Encoding.ASCII.GetBytes(value);
        File = file;
        _createdFile = created ? file : null;
    }

    /// <summary>The token.</summary>
    public string Value { get; }

    /// <summary>The file that holds it.</summary>
    public string File { get; }

    /// <summary>
    /// Reads the token from <paramref name="file"/> if it exists, else creates the file (0600) with
    /// a new one; with no file named, a new token goes into a file of the runtime directory that
    /// is removed again at <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="UnsafePathException">The file or its directory may be read or changed by another user.</exception>
    /// <exception cref="IOException">The file cannot be read or written, or holds no usable token.</exception>
    public static AccessToken OpenOrCreate(string? file)
    {
        bool temporary = file is null;
        file ??= Path.Combine(RuntimeDirectory(), $"http-{Environment.ProcessId}.token");
        file = Path.GetFullPath(file);
        using var directory = PrivateDirectory.Open(Path.GetDirectoryName(file)!);
        string name = Path.GetFileName(file);
        if (!temporary && directory.OpenFile(name) is { } existing)
        {
            using (existing)
            {
                // Anyone who can read the token holds the server: group or other bits refuse it.
                if (OperatingSystem.IsLinux() && (System.IO.File.GetUnixFileMode(existing) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
                    throw new UnsafePathException(file, "may be read by other users; make it 0600");
                using var stream = new FileStream(existing, FileAccess.Read);
                var buffer = new byte[1024];
                int length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                string token = Encoding.ASCII.GetString(buffer, 0, length).Trim();
                if (token.Length < 16 || token.Length > 512 || token.Any(c => c <= ' ' || c > '~'))
                    throw new IOException($"{file}: not a token (16 to 512 printable characters without spaces)");
                return new AccessToken(token, file, created: false);
            }
        }
        string value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using (var handle = directory.CreateFile(name, replace: temporary))
        using (var stream = new FileStream(handle, FileAccess.Write))
        {
            stream.Write(Encoding.ASCII.GetBytes(value + "\n"));
        }
        return new AccessToken(value, file, created: temporary);
    }

    /// <summary>Whether <paramref name="presented"/> is the token, in time that does not depend on where they differ.</summary>
    public bool Matches(ReadOnlySpan<char> presented)
    {
        if (presented.Length != _value.Length) return false;
        Span<byte> bytes = stackalloc byte[512];
        for (int i = 0; i < presented.Length; i++) bytes[i] = presented[i] > 0x7F ? (byte)0 : (byte)presented[i];
        return CryptographicOperations.FixedTimeEquals(bytes[..presented.Length], _value);
    }

    public void Dispose()
    {
        if (_createdFile is not null) System.IO.File.Delete(_createdFile);
    }

    /// <summary>$XDG_RUNTIME_DIR/polynic, else /run/polynic for root, else polynic-UID in the temporary directory.</summary>
    private static string RuntimeDirectory()
    {
        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Path.IsPathRooted(runtime))
            return Path.Combine(runtime, "polynic");
        uint uid = LibC.geteuid();
        return uid == 0 ? "/run/polynic" : Path.Combine(Path.GetTempPath(), $"polynic-{uid}");
    }
}
