using Microsoft.Win32.SafeHandles;
using Polynic.Native;

namespace Polynic.Ports.Capture;

/// <summary>
/// The current capture file and its rotated predecessors (x.pcapng, x.1.pcapng … x.N.pcapng),
/// all in one <see cref="PrivateDirectory"/>: a capture is often written by root into a directory
/// such as /var/tmp/polynic, so every file is created new (0600, never through a link) and every
/// rename and removal stays inside the directory that was checked.
/// </summary>
internal sealed class CaptureFileSet : CaptureDestination
{
    private readonly PrivateDirectory _directory;
    private readonly string _name;
    private readonly string[] _rotatedNames;
    private readonly string[] _rotatedPaths;
    private SafeFileHandle? _file;

    /// <summary>
    /// Opens (creating it 0700 if missing) and checks the directory of <paramref name="path"/>,
    /// then creates the file, replacing a file of ours from an earlier run; keeps
    /// <paramref name="keep"/> rotated files.
    /// </summary>
    /// <exception cref="UnsafePathException">The directory or the name is not safe to write (see <see cref="PrivateDirectory"/>).</exception>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public CaptureFileSet(string path, int keep)
    {
        string full = System.IO.Path.GetFullPath(path);
        _name = System.IO.Path.GetFileName(full);
        if (_name.Length == 0) throw new ArgumentException($"{path} names a directory, not a capture file.", nameof(path));
        _directory = PrivateDirectory.Open(System.IO.Path.GetDirectoryName(full)!);
        try
        {
            _rotatedNames = RotatedNames(_name, keep);
            _rotatedPaths = Array.ConvertAll(_rotatedNames, _directory.Combine);
            _file = _directory.CreateFile(_name, replace: true);
        }
        catch
        {
            _directory.Dispose();
            throw;
        }
    }

    public override string Path => _directory.Combine(_name);

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
        if (_rotatedNames.Length == 0)
        {
            _directory.DeleteFile(_name);
        }
        else
        {
            // Renames replace the name they land on (never following a link there).
            _directory.DeleteFile(_rotatedNames[^1]);
            for (int i = _rotatedNames.Length - 1; i > 0; i--) _directory.Rename(_rotatedNames[i - 1], _rotatedNames[i]);
            _directory.Rename(_name, _rotatedNames[0]);
        }
        _file = _directory.CreateFile(_name);
        Length = 0;
    }

    public override void Dispose()
    {
        _file?.Dispose();
        _file = null;
        _directory.Dispose();
    }

    private static string[] RotatedNames(string name, int keep)
    {
        string stem = System.IO.Path.GetFileNameWithoutExtension(name);
        string extension = System.IO.Path.GetExtension(name);
        var names = new string[keep];
        for (int i = 0; i < keep; i++) names[i] = $"{stem}.{i + 1}{extension}";
        return names;
    }
}
