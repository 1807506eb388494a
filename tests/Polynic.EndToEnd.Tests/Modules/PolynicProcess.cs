using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// The real <c>polynic</c> executable as a user runs it: built by the repository's <c>./polynic</c>
/// launcher into artifacts/, a long-running <c>serve --control</c> process, and one-shot
/// management commands against its control socket.
/// </summary>
internal sealed class PolynicProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PolynicProcess(Process process, string controlSocket)
    {
        _process = process;
        ControlSocket = controlSocket;
    }

    /// <summary>The repository root (where ./polynic is).</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "polynic"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (with ./polynic) was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>artifacts/, where ./polynic puts the CLI (cli/) and the compiled modules (modules/).</summary>
    public static string Artifacts => Path.Combine(RepositoryRoot(), "artifacts");

    /// <summary>The CLI executable ./polynic builds.</summary>
    public static string Executable => Path.Combine(Artifacts, "cli", "polynic");

    /// <summary>The compiled module file of personality project <paramref name="project"/> (e.g. Polynic.Personalities.E1000).</summary>
    public static string Module(string project) => Path.Combine(Artifacts, "modules", project, project + ".dll");

    public string ControlSocket { get; }

    /// <summary>The HTTP API's address as the server printed it (<c>serve --http</c>); null without one.</summary>
    public Uri? HttpApi => Output.Split('\n').FirstOrDefault(l => l.StartsWith("HTTP API ", StringComparison.Ordinal)) is { } line
        ? new Uri(line["HTTP API ".Length..].Split(' ')[0]) : null;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Runs ./polynic once so that artifacts/ holds a current build (it builds only when sources changed).</summary>
    public static async Task EnsureBuiltAsync()
    {
        var (code, output) = await RunAsync(Path.Combine(RepositoryRoot(), "polynic"), ["--help"], TimeSpan.FromMinutes(10));
        Assert.True(code == 0, "./polynic --help failed:\n" + output);
    }

    /// <summary>SHA-256 of every file under artifacts/cli and artifacts/modules, by relative path.</summary>
    public static IReadOnlyDictionary<string, string> HashBinaries()
    {
        var hashes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var folder in new[] { "cli", "modules" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Artifacts, folder), "*", SearchOption.AllDirectories))
                hashes[Path.GetRelativePath(Artifacts, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }
        return hashes;
    }

    /// <summary>Starts <c>polynic serve --control SOCKET --modules DIR [EXTRA...]</c> and waits until it says it is ready.</summary>
    public static async Task<PolynicProcess> ServeAsync(string controlSocket, string modulesDirectory, params string[] extra)
    {
        var start = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["serve", "--control", controlSocket, "--modules", modulesDirectory, .. extra]) start.ArgumentList.Add(a);
        var server = new PolynicProcess(Process.Start(start)!, controlSocket);
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var exited = server._process.WaitForExitAsync();
        var first = await Task.WhenAny(server._ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != server._ready.Task)
        {
            await server.DisposeAsync();
            Assert.Fail("polynic serve did not become ready:\n" + server.Output);
        }
        return server;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("ready", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    /// <summary>Runs <c>polynic ARGS --server SOCKET</c> and returns its exit code and output.</summary>
    public Task<(int ExitCode, string Output)> ManageAsync(params string[] arguments) =>
        RunAsync(Executable, [.. arguments, "--server", ControlSocket], TimeSpan.FromMinutes(2));

    /// <summary>Like <see cref="ManageAsync"/>, asserting success.</summary>
    public async Task<string> ManageCheckedAsync(params string[] arguments)
    {
        var (code, output) = await ManageAsync(arguments);
        Assert.True(code == 0, $"polynic {string.Join(' ', arguments)} failed ({code}):\n{output}");
        return output;
    }

    /// <summary>
    /// Like <see cref="ManageCheckedAsync"/> for a command that answers with JSON: the parsed
    /// answer (stdout), and the warning the CLI printed on stderr, if any.
    /// </summary>
    public async Task<(JsonElement Result, string? Warning)> ManageJsonAsync(params string[] arguments)
    {
        var (code, stdout, stderr) = await RunSeparatelyAsync(Executable, [.. arguments, "--server", ControlSocket], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"polynic {string.Join(' ', arguments)} failed ({code}):\n{stdout}{stderr}");
        const string prefix = "polynic: warning: ";
        var warning = stderr.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..].Trim();
        return (JsonDocument.Parse(stdout).RootElement.Clone(), warning);
    }

    /// <summary>Stops the server with SIGTERM, as a service manager does, and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await _process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); throw; }
        }
        return _process.ExitCode;
    }

    /// <summary>Runs <paramref name="file"/> to completion (killed after <paramref name="timeout"/>); its exit code and stdout then stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var (code, stdout, stderr) = await RunSeparatelyAsync(file, arguments, timeout, environment);
        return (code, stdout + stderr);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunSeparatelyAsync(string file, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
        return (process.ExitCode, await stdout, await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
