using System.Diagnostics;
using System.Globalization;

namespace Polynic.Soak;

/// <summary>
/// <c>polynic serve --config FILE --control SOCKET --modules DIR</c>, the executable the
/// repository's <c>./polynic</c> launcher builds into artifacts/, run as a user runs it. Its
/// output goes to a log file (not memory: the soak runs for hours).
/// </summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _errorLines;

    private ServeProcess(Process process, StreamWriter log, string controlSocket)
    {
        _process = process;
        _log = log;
        ControlSocket = controlSocket;
    }

    public string ControlSocket { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Lines of the server's log at warning level or above.</summary>
    public int ErrorLines => Volatile.Read(ref _errorLines);

    /// <summary>The repository root: the directory above this program that holds ./polynic.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "polynic"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (with ./polynic) was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs ./polynic --help so that artifacts/ holds a current build of the CLI and its modules.</summary>
    public static async Task EnsureBuiltAsync()
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot(), "polynic"), "--help") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException("./polynic --help failed:\n" + await output + await errors);
    }

    public static async Task<ServeProcess> StartAsync(string configFile, string controlSocket, string logFile, CancellationToken cancellationToken)
    {
        var artifacts = Path.Combine(RepositoryRoot(), "artifacts");
        var start = new ProcessStartInfo(Path.Combine(artifacts, "cli", "polynic")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "serve", "--config", configFile, "--control", controlSocket, "--modules", Path.Combine(artifacts, "modules") })
            start.ArgumentList.Add(a);
        var log = new StreamWriter(logFile) { AutoFlush = true };
        var server = new ServeProcess(Process.Start(start)!, log, controlSocket);
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data, stderr: false);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data, stderr: true);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var first = await Task.WhenAny(server._ready.Task, server._process.WaitForExitAsync(cancellationToken), Task.Delay(TimeSpan.FromMinutes(2), cancellationToken));
        if (first != server._ready.Task)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"polynic serve did not become ready; its log: {logFile}");
        }
        return server;
    }

    private void Append(string? line, bool stderr)
    {
        if (line is null) return;
        if (line.Contains("warn:", StringComparison.Ordinal) || line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal))
            Interlocked.Increment(ref _errorLines);
        lock (_log) _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {(stderr ? "E " : "")}{line}");
        if (line.StartsWith("ready", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    /// <summary>SIGTERM, as a service manager stops it (sockets removed, taps deleted); killed after 30 s.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                return -1;
            }
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (InvalidOperationException) { }
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}
