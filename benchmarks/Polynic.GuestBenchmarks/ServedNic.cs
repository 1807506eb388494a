using System.Diagnostics;
using Polynic.Rig.Guests;

namespace Polynic.GuestBenchmarks;

/// <summary>
/// A Polynic card as users run it: a <c>polynic serve --device PERSONALITY:SOCKET,tap=TAP</c>
/// process of its own (the build in artifacts/, default modules directory), which QEMU reaches
/// through <c>vfio-user-pci</c>. Stopped with SIGTERM after the round, as a service manager does.
/// </summary>
internal sealed class ServedNic(Card card, IReadOnlyList<string> serveOptions, string? executable = null) : IGuestNic
{
    private static int s_counter;

    public string Name => $"Polynic {card.Name} ({(executable is null ? "polynic" : executable)} serve{(serveOptions.Count > 0 ? " " + string.Join(' ', serveOptions) : "")})";

    public string Driver => card.Driver;

    public async Task<(GuestOptions, string, IAsyncDisposable)> PrepareAsync(GuestOptions baseOptions)
    {
        var directory = Directory.CreateTempSubdirectory("polynic-bench-");
        string socket = Path.Combine(directory.FullName, "bench.sock");
        string tap = $"pps{Interlocked.Increment(ref s_counter)}";
        var served = await Serve.StartAsync(["--device", $"{card.Personality}:{socket},tap={tap},mac=52:54:00:be:00:02{card.Options}", .. serveOptions], directory, executable);
        return (baseOptions with { VfioUserSockets = [socket] }, tap, served);
    }
}

/// <summary>A running <c>polynic serve</c> process, its output kept for the report of a failed round.</summary>
internal sealed class Serve : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly System.Text.StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Serve(Process process, DirectoryInfo directory)
    {
        _process = process;
        _directory = directory;
    }

    /// <summary>artifacts/cli/polynic, built by <c>./polynic</c>; or another build (<c>--polynic</c>), to compare two.</summary>
    public static string Executable { get; set; } = Path.Combine(Repository.Root, "artifacts", "cli", "polynic");

    /// <summary>Runs <c>./polynic --help</c> once, which builds artifacts/ when sources changed.</summary>
    public static void EnsureBuilt()
    {
        using var build = Process.Start(new ProcessStartInfo(Path.Combine(Repository.Root, "polynic"), "--help") { RedirectStandardOutput = true })!;
        build.StandardOutput.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0) throw new InvalidOperationException("./polynic --help failed: the CLI does not build");
    }

    public static async Task<Serve> StartAsync(IEnumerable<string> arguments, DirectoryInfo directory, string? executable = null)
    {
        var start = new ProcessStartInfo(executable ?? Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("serve");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        var serve = new Serve(Process.Start(start)!, directory);
        serve._process.OutputDataReceived += (_, e) => serve.Append(e.Data);
        serve._process.ErrorDataReceived += (_, e) => serve.Append(e.Data);
        serve._process.BeginOutputReadLine();
        serve._process.BeginErrorReadLine();
        var first = await Task.WhenAny(serve._ready.Task, serve._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != serve._ready.Task)
        {
            string said = serve.Output;
            await serve.DisposeAsync();
            throw new InvalidOperationException("polynic serve did not become ready:\n" + said);
        }
        return serve;
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("ready", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await _process.WaitForExitAsync(limit.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        if (_process.ExitCode != 0) Console.WriteLine($"  polynic serve exited with {_process.ExitCode}:\n{Output}");
        else
            foreach (var line in Output.Split('\n').Where(l => l.Contains("counters:", StringComparison.Ordinal)))
                Console.WriteLine("  polynic serve: " + line.Trim());
        _process.Dispose();
        _directory.Delete(recursive: true);
    }
}

internal static class Repository
{
    /// <summary>The checkout this benchmark was built from (the directory holding Polynic.slnx).</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Polynic.slnx"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (Polynic.slnx) above " + AppContext.BaseDirectory);
    }
}
