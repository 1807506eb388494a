namespace Polynic.Cli.Demo;

/// <summary>Where the LAN demo's pcapng capture goes: one file per run in the capture directory.</summary>
internal static class DemoCapture
{
    /// <summary>File names the demo gives its captures; earlier ones are removed.</summary>
    public const string Pattern = "polynic-demo-*.pcapng";

    /// <summary>
    /// Prepares <paramref name="directory"/> for this run's capture and returns the file's path
    /// (the server creates the file).
    /// </summary>
    public static string Prepare(string directory, DateTime now)
    {
        Directory.CreateDirectory(directory);
        // Keep only the latest demo's capture: a demo run captures a few hundred megabytes of headers.
        foreach (var old in Directory.EnumerateFiles(directory, Pattern)) File.Delete(old);
        return Path.Combine(directory, $"polynic-demo-{now:yyyyMMdd-HHmmss}.pcapng");
    }
}
