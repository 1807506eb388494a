using Microsoft.Win32.SafeHandles;

namespace Polynic.Ports.Capture;

/// <summary>
/// The current capture file and its rotated predecessors (x.pcapng, x.1.pcapng … x.N.pcapng).
/// </summary>
internal sealed class CaptureFileSet : CaptureDestination
{
    private readonly string _path;
    private readonly string[] _rotatedPaths;
    private SafeFileHandle? _file;

    /// <summary>Creates (or truncates) the file at <paramref name="path"/>; keeps <paramref name="keep"/> rotated files.</summary>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public CaptureFileSet(string path, int keep)
    {
        _path = System.IO.Path.GetFullPath(path);
        _rotatedPaths = RotatedPaths(_path, keep);
        _file = Open(_path);
    }

    public override string Path => _path;

    public override bool CanRotate => true;

    public override IReadOnlyList<string> RotatedFiles => _rotatedPaths;

    public override void Write(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_file is null, this);
        RandomAccess.Write(_file, data, Length);
        Length += data.Length;
    }

    public override void StartNewFile()
    {
        _file?.Dispose();
        _file = null;
        if (_rotatedPaths.Length == 0)
        {
            File.Delete(_path);
        }
        else
        {
            File.Delete(_rotatedPaths[^1]);
            for (int i = _rotatedPaths.Length - 1; i > 0; i--)
                if (File.Exists(_rotatedPaths[i - 1])) File.Move(_rotatedPaths[i - 1], _rotatedPaths[i], overwrite: true);
            File.Move(_path, _rotatedPaths[0], overwrite: true);
        }
        _file = Open(_path);
        Length = 0;
    }

    public override void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }

    private static SafeFileHandle Open(string path) =>
        File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete);

    private static string[] RotatedPaths(string path, int keep)
    {
        string directory = System.IO.Path.GetDirectoryName(path) ?? "";
        string stem = System.IO.Path.GetFileNameWithoutExtension(path);
        string extension = System.IO.Path.GetExtension(path);
        var paths = new string[keep];
        for (int i = 0; i < keep; i++) paths[i] = System.IO.Path.Combine(directory, $"{stem}.{i + 1}{extension}");
        return paths;
    }
}
