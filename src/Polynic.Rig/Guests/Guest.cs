using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Rig.Hosting;

namespace Polynic.Rig.Guests;

/// <summary>
/// A running QEMU guest with the Polynic agent on its serial console. Start one with
/// <see cref="GuestRig.StartGuestAsync"/>; dispose it to kill QEMU and remove its work files.
/// Every call has a timeout, and every failure message ends with the serial tail and the
/// path of the full serial log.
/// </summary>
public sealed class Guest : IAsyncDisposable
{
    // The guest tty is in canonical mode: a line longer than its 4095-byte buffer would be cut.
    private const int MaxCommandLength = 3500;

    private readonly Process qemu;
    private readonly GuestOptions options;
    private readonly SerialLog serial;
    private readonly AgentProtocol protocol = new();
    private readonly SemaphoreSlim commandGate = new(1, 1);
    private readonly SemaphoreSlim qmpGate = new(1, 1);
    private readonly Task serialPump;
    private readonly Stopwatch sinceStart = Stopwatch.StartNew();
    private readonly ILogger logger;
    private QmpClient? qmp;
    private int tokenCounter;
    private bool failed;
    private int disposed;

    private Guest(Process qemu, GuestOptions options, string workDirectory, SerialLog serial, string? qmpSocket, ILogger logger)
    {
        this.qemu = qemu;
        this.options = options;
        this.logger = logger;
        this.serial = serial;
        WorkDirectory = workDirectory;
        QmpSocketPath = qmpSocket;
        serialPump = Task.Run(PumpSerialAsync);
    }

    /// <summary>The per-guest directory holding serial.log and the QMP socket.</summary>
    public string WorkDirectory { get; }

    /// <summary>The full serial log (also kept in memory, see <see cref="SerialText"/>).</summary>
    public string SerialLogPath => serial.Path;

    /// <summary>The QMP socket, when <see cref="GuestOptions.EnableQmp"/> is set.</summary>
    public string? QmpSocketPath { get; }

    /// <summary>Everything the guest printed on its serial console so far.</summary>
    public string SerialText => serial.Text;

    /// <summary>How long the first boot took from QEMU start to the agent's READY.</summary>
    public TimeSpan? TimeToFirstReady { get; private set; }

    /// <summary>QEMU's process id.</summary>
    public int ProcessId => qemu.Id;

    /// <summary>Once QEMU has exited and its output is read: its exit status and what it printed on stderr (an assertion, say).</summary>
    public string? ExitReport { get; private set; }

    /// <summary>Whether QEMU has exited (on its own, by a crash or an abort, or after <see cref="QuitAsync"/>).</summary>
    public bool HasExited => qemu.HasExited;

    /// <summary>
    /// Ends QEMU the orderly way (QMP <c>quit</c>) and returns its exit status: 0 when it shut down
    /// cleanly; a signal (an abort shows as 134) or an error status otherwise.
    /// </summary>
    public async Task<int> QuitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!qemu.HasExited)
        {
            try
            {
                await QmpAsync("""{"execute":"quit"}""", timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is GuestException or IOException)
            {
                // It may close the connection before its reply reaches us; whether it exits is what counts.
            }
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        await qemu.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        return qemu.ExitCode;
    }

    internal static Guest Start(GuestImage image, GuestOptions options, ILogger? logger)
    {
        if (options.MemoryMiB < 64) throw new ArgumentException("A guest needs at least 64 MiB.", nameof(options));
        var (workDirectory, serialFile) = GuestWorkDirectory.Create(options.WorkParent,
            $"{options.Name}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        var serial = new SerialLog(Path.Combine(workDirectory, GuestWorkDirectory.SerialLogName), serialFile);
        var qmpSocket = options.EnableQmp ? Path.Combine(workDirectory, "qmp.sock") : null;

        var start = new ProcessStartInfo(IsolatedChroot.Launcher)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in QemuCommandLine.LauncherArguments(image, options, qmpSocket)) start.ArgumentList.Add(argument);
        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch
        {
            serial.Dispose();
            process.Dispose();
            throw;
        }
        logger ??= NullLogger.Instance;
        logger.LogInformation("Started guest {Name} (QEMU pid {Pid}), work directory {Dir}", options.Name, process.Id, workDirectory);
        return new Guest(process, options, workDirectory, serial, qmpSocket, logger);
    }

    /// <summary>Waits until the agent is ready after the latest boot.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await WaitAsync(protocol.WhenReadyCount(Math.Max(1, protocol.ReadyCount)), timeout, "the guest agent to become ready", cancellationToken)
            .ConfigureAwait(false);
        TimeToFirstReady ??= sinceStart.Elapsed;
    }

    /// <summary>
    /// Waits until the serial console shows one of <paramref name="texts"/> (firmware output, e.g.
    /// iPXE's, when the guest boots with <see cref="GuestOptions.NetworkBootRom"/>) and returns the
    /// first one found: pass the outcomes to expect, failures included, so a failure ends the wait.
    /// </summary>
    /// <exception cref="GuestTimeoutException">None appeared in time (the message has the console's tail).</exception>
    /// <exception cref="GuestException">QEMU exited first.</exception>
    public async Task<string> WaitForConsoleAsync(TimeSpan timeout, CancellationToken cancellationToken, params string[] texts)
    {
        ArgumentOutOfRangeException.ThrowIfZero(texts.Length);
        var clock = Stopwatch.StartNew();
        // Bounded by the timeout; the console is polled, since firmware output carries no protocol.
        while (true)
        {
            var console = serial.Text;
            foreach (var text in texts)
            {
                if (console.Contains(text, StringComparison.Ordinal)) return text;
            }
            var wanted = string.Join("\" or \"", texts);
            if (qemu.HasExited)
            {
                failed = true;
                throw new GuestException(Describe($"QEMU exited before the console showed \"{wanted}\""));
            }
            if (clock.Elapsed > timeout)
            {
                failed = true;
                throw new GuestTimeoutException(Describe($"Timed out after {timeout.TotalSeconds:0.#} s waiting for the console to show \"{wanted}\""));
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs one shell command line in the guest (sh -c) and returns its exit status and output.</summary>
    /// <exception cref="GuestTimeoutException">The command did not finish in time; it was interrupted with ^C.</exception>
    /// <exception cref="GuestException">QEMU exited or the guest rebooted while the command ran.</exception>
    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ValidateCommand(command);
        await commandGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitReadyAsync(options.BootTimeout, cancellationToken).ConfigureAwait(false);
            var token = $"{Interlocked.Increment(ref tokenCounter)}x{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
            var result = protocol.Expect(token);
            serial.Note($"[{token}] {command}");
            await SendAsync(AgentProtocol.FormatRun(token, command)).ConfigureAwait(false);
            try
            {
                return await WaitAsync(result, timeout, $"`{command}`", cancellationToken).ConfigureAwait(false);
            }
            catch (GuestTimeoutException)
            {
                // ^C reaches the command's process group through the tty; the agent survives and
                // reports it, which puts the line back in step for the next command.
                serial.Note($"[{token}] ^C after {timeout.TotalSeconds:0.#} s");
                await SendAsync("\u0003").ConfigureAwait(false);
                try { await result.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false); }
                catch (Exception e) when (e is TimeoutException or GuestException) { protocol.Abandon(token); }
                throw;
            }
        }
        finally
        {
            commandGate.Release();
        }
    }

    /// <summary>Like <see cref="RunAsync"/> but throws <see cref="GuestCommandException"/> (with the output) unless the status is 0.</summary>
    public async Task<string> RunCheckedAsync(string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            failed = true;
            throw new GuestCommandException(command, result);
        }
        return result.Output;
    }

    /// <summary>Reboots the guest with <c>reboot -f</c> and waits for the agent to come back.</summary>
    public async Task RebootAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await commandGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitReadyAsync(options.BootTimeout, cancellationToken).ConfigureAwait(false);
            var before = protocol.ReadyCount;
            // No Expect: the command never reports back, the next READY is the answer.
            serial.Note("reboot -f");
            await SendAsync(AgentProtocol.FormatRun("reboot", "reboot -f")).ConfigureAwait(false);
            await WaitAsync(protocol.WhenReadyCount(before + 1), timeout ?? options.BootTimeout, "the guest to reboot", cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            commandGate.Release();
        }
    }

    /// <summary>Sends one QMP command (JSON text) and returns its "return" member; throws on a QMP error.</summary>
    public async Task<JsonElement> QmpAsync(string json, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (QmpSocketPath is null) throw new InvalidOperationException("This guest was started with EnableQmp = false.");
        await qmpGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var limit = timeout ?? TimeSpan.FromSeconds(30);
            qmp ??= await WaitAsync(QmpClient.ConnectAsync(QmpSocketPath, limit, cancellationToken), limit, "the QMP socket", cancellationToken)
                .ConfigureAwait(false);
            return await WaitAsync(qmp.ExecuteAsync(json, cancellationToken), limit, $"QMP {json}", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            qmpGate.Release();
        }
    }

    /// <summary>Kills QEMU if it still runs and removes the work directory (kept, with the serial log, after a failure).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        if (qmp is not null) await qmp.DisposeAsync().ConfigureAwait(false);
        try
        {
            if (!qemu.HasExited) qemu.Kill(entireProcessTree: true);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await qemu.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            logger.LogWarning("QEMU pid {Pid} did not exit after kill", qemu.Id);
        }
        try { await serialPump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (TimeoutException) { }
        serial.Dispose();
        qemu.Dispose();
        if (failed || options.KeepWorkDirectory)
        {
            if (QmpSocketPath is not null) File.Delete(QmpSocketPath);
            logger.LogInformation("Kept guest work directory {Dir}", WorkDirectory);
        }
        else
        {
            MountGuard.DeleteTree(WorkDirectory);
        }
    }

    private async Task PumpSerialAsync()
    {
        var buffer = new byte[4096];
        var stdout = qemu.StandardOutput.BaseStream;
        var stderr = Task.Run(() => qemu.StandardError.ReadToEndAsync());
        int read;
        while ((read = await stdout.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            serial.Append(buffer.AsSpan(0, read), protocol.OnLine);
        await qemu.WaitForExitAsync().ConfigureAwait(false);
        var errors = (await stderr.ConfigureAwait(false)).Trim();
        ExitReport = $"QEMU exited with status {qemu.ExitCode}" + (errors.Length > 0 ? $"; it said:\n{errors}" : "");
        protocol.OnTerminated(new GuestException(Describe(ExitReport)));
    }

    private async Task SendAsync(string text)
    {
        try
        {
            await qemu.StandardInput.WriteAsync(text).ConfigureAwait(false);
            await qemu.StandardInput.FlushAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // QEMU is gone; the pump reports why to every waiter.
        }
    }

    private async Task WaitAsync(Task task, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            failed = true;
            throw new GuestTimeoutException(Describe($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}"));
        }
        catch (GuestException)
        {
            failed = true;
            throw;
        }
    }

    private async Task<T> WaitAsync<T>(Task<T> task, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        await WaitAsync((Task)task, timeout, what, cancellationToken).ConfigureAwait(false);
        return await task.ConfigureAwait(false);
    }

    private string Describe(string problem)
        => $"{problem} (guest {options.Name}, {sinceStart.Elapsed.TotalSeconds:0} s after start). Serial log: {serial.Path}. Last serial lines (command output decoded):\n{AgentProtocol.Readable(serial.Tail())}";

    private static void ValidateCommand(string command)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        if (command.Length > MaxCommandLength)
            throw new ArgumentException($"A guest command line may be at most {MaxCommandLength} characters; copy a script in instead.", nameof(command));
        if (command.Any(char.IsControl))
            throw new ArgumentException("A guest command must be one line without control characters (use ';' or '&&').", nameof(command));
    }
}
