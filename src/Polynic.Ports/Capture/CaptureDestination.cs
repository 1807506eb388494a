namespace Polynic.Ports.Capture;

/// <summary>
/// Where a <see cref="PcapngWriter"/> puts its bytes: a file set that can rotate
/// (<see cref="CaptureFileSet"/>) or a caller's stream (<see cref="CaptureStream"/>). Used by one
/// thread at a time.
/// </summary>
internal abstract class CaptureDestination : IDisposable
{
    /// <summary>The current file's full path, or a description of the stream.</summary>
    public abstract string Path { get; }

    /// <summary>Bytes written since the current file began.</summary>
    public long Length { get; protected set; }

    /// <summary>Whether <see cref="StartNewFile"/> is possible.</summary>
    public abstract bool CanRotate { get; }

    /// <summary>Paths of the rotated files, newest first.</summary>
    public virtual IReadOnlyList<string> RotatedFiles => [];

    /// <summary>Appends <paramref name="data"/>.</summary>
    /// <exception cref="IOException">The write failed.</exception>
    public abstract void Write(ReadOnlySpan<byte> data);

    /// <summary>Closes the current file, shifts the rotated ones and starts an empty current file.</summary>
    /// <exception cref="IOException">A rename, delete or create failed.</exception>
    public virtual void StartNewFile() => throw new NotSupportedException("This destination does not rotate.");

    /// <inheritdoc/>
    public abstract void Dispose();
}
