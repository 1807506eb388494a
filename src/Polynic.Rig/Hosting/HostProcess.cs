using System.Diagnostics;
using System.Text;

namespace Polynic.Rig.Hosting;

/// <summary>The result of a finished host process.</summary>
internal sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The last lines of both streams, for error messages.</summary>
    public string Tail(int lines = 15)
    {
        var all = (StandardOutput + "\n" + StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', all.TakeLast(lines));
    }
}

/// <summary>
/// Runs host commands (debootstrap, apt-get in a chroot, xz) with captured output, an
/// optional line callback for progress, a timeout and cancellation that kill the whole tree.
/// </summary>
internal static class HostProcess
{
    public static async Task<ProcessOutcome> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        Action<string>? onLine = null,
        IReadOnlyDictionary<string, string>? environment = null,
        Stream? standardOutputSink = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment) start.Environment[key] = value;

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RigException($"Cannot run {fileName}: {e.Message}.", e);
        }
        process.StandardInput.Close();

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        Task readOut = standardOutputSink is null
            ? PumpLinesAsync(process.StandardOutput, stdout, onLine)
            : process.StandardOutput.BaseStream.CopyToAsync(standardOutputSink, cancellationToken);
        var readErr = PumpLinesAsync(process.StandardError, stderr, onLine);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            await Task.WhenAll(readOut, readErr).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            cancellationToken.ThrowIfCancellationRequested();
            throw new RigException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s.");
        }
        return new ProcessOutcome(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs a command and throws with its output tail unless it exits 0.</summary>
    public static async Task<ProcessOutcome> RunCheckedAsync(
        string what,
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        Action<string>? onLine = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var outcome = await RunAsync(fileName, arguments, timeout, cancellationToken, onLine, environment).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new RigException($"{what} failed (exit status {outcome.ExitCode}):\n{outcome.Tail()}");
        return outcome;
    }

    private static async Task PumpLinesAsync(StreamReader reader, StringBuilder sink, Action<string>? onLine)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (sink) sink.AppendLine(line);
            onLine?.Invoke(line);
        }
    }
}
