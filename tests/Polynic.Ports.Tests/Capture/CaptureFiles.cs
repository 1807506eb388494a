namespace Polynic.Ports.Tests.Capture;

/// <summary>A scratch directory for one test's capture files, removed afterwards.</summary>
internal sealed class CaptureFiles : IDisposable
{
    public CaptureFiles() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"polynic-capture-{Guid.NewGuid():N}");

    public string this[string name] => Path.Combine(Root, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
