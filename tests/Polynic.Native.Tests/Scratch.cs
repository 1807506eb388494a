namespace Polynic.Native.Tests;

/// <summary>A private scratch directory for one test, removed afterwards.</summary>
internal sealed class Scratch : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("polynic-native-").FullName;

    public string this[string name] => Path.Combine(Root, name);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
