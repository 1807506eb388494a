namespace Polynic.Rig.Guests;

/// <summary>
/// The host side of the serial agent protocol (see Agent/agent.sh). Consumes serial lines,
/// tracks boots (READY lines) and completes the one command in flight when its END line
/// arrives. Tolerates anything else on the line: kernel messages, boot noise, the END of a
/// command that already timed out (it carries another token).
/// </summary>
internal sealed class AgentProtocol
{
    public const string ReadyMarker = "@@POLYNIC-READY";
    public const string RunMarker = "@@POLYNIC-RUN";
    public const string BeginMarker = "@@POLYNIC-BEGIN";
    public const string EndMarker = "@@POLYNIC-END";

    private readonly Lock gate = new();
    private readonly List<(int Count, TaskCompletionSource Signal)> readyWaiters = [];
    private PendingCommand? pending;
    private Exception? terminal;

    private sealed class PendingCommand(string token)
    {
        public string Token { get; } = token;
        public bool InOutput { get; set; }
        public System.Text.StringBuilder Base64 { get; } = new();
        public TaskCompletionSource<CommandResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>How many times the agent announced itself: one per boot.</summary>
    public int ReadyCount { get; private set; }

    /// <summary>The line to send for a command.</summary>
    public static string FormatRun(string token, string command) => $"{RunMarker} {token} {command}\n";

    /// <summary>Registers the command about to be sent; its result completes on the matching END.</summary>
    public Task<CommandResult> Expect(string token)
    {
        lock (gate)
        {
            if (terminal is not null) return Task.FromException<CommandResult>(terminal);
            pending?.Result.TrySetCanceled();
            pending = new PendingCommand(token);
            return pending.Result.Task;
        }
    }

    /// <summary>Forgets the command in flight (after a timeout); a late END for it is then ignored.</summary>
    public void Abandon(string token)
    {
        lock (gate)
            if (pending?.Token == token) pending = null;
    }

    /// <summary>Completes when the agent has announced itself at least <paramref name="count"/> times.</summary>
    public Task WhenReadyCount(int count)
    {
        lock (gate)
        {
            if (ReadyCount >= count) return Task.CompletedTask;
            if (terminal is not null) return Task.FromException(terminal);
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            readyWaiters.Add((count, signal));
            return signal.Task;
        }
    }

    /// <summary>Feeds one serial line (without its line ending).</summary>
    public void OnLine(string line)
    {
        lock (gate)
        {
            if (line.Contains(ReadyMarker, StringComparison.Ordinal))
            {
                ReadyCount++;
                // A boot while a command runs means the guest rebooted under it (reboot, panic, triple fault).
                pending?.Result.TrySetException(new GuestException("The guest rebooted while a command was running."));
                pending = null;
                foreach (var waiter in readyWaiters.Where(w => w.Count <= ReadyCount).ToList())
                {
                    waiter.Signal.TrySetResult();
                    readyWaiters.Remove(waiter);
                }
                return;
            }
            if (pending is null) return;
            var begin = line.IndexOf(BeginMarker, StringComparison.Ordinal);
            if (begin >= 0)
            {
                if (line[(begin + BeginMarker.Length)..].Trim() == pending.Token) pending.InOutput = true;
                return;
            }
            var end = line.IndexOf(EndMarker, StringComparison.Ordinal);
            if (end >= 0)
            {
                var fields = line[(end + EndMarker.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 2 && fields[0] == pending.Token && int.TryParse(fields[1], out var exitCode))
                {
                    pending.Result.TrySetResult(new CommandResult(exitCode, Decode(pending.Base64.ToString())));
                    pending = null;
                }
                return;
            }
            if (pending.InOutput && IsBase64Line(line)) pending.Base64.Append(line);
        }
    }

    /// <summary>Fails every waiter: QEMU is gone.</summary>
    public void OnTerminated(Exception reason)
    {
        lock (gate)
        {
            terminal = reason;
            pending?.Result.TrySetException(reason);
            pending = null;
            foreach (var waiter in readyWaiters) waiter.Signal.TrySetException(reason);
            readyWaiters.Clear();
        }
    }

    /// <summary>
    /// Serial lines for a person: each command's base64 output block replaced by its text,
    /// so a failure message shows what the guest said rather than encoded noise.
    /// </summary>
    public static string Readable(IEnumerable<string> lines)
    {
        var text = new System.Text.StringBuilder();
        var block = new System.Text.StringBuilder();
        var inBlock = false;
        foreach (var line in lines)
        {
            if (line.Contains(BeginMarker, StringComparison.Ordinal)) { inBlock = true; block.Clear(); continue; }
            if (inBlock && IsBase64Line(line)) { block.Append(line); continue; }
            if (inBlock)
            {
                inBlock = false;
                var output = Decode(block.ToString());
                if (output.Length > 0) text.Append(output.EndsWith('\n') ? output : output + "\n");
            }
            text.Append(line).Append('\n');
        }
        if (inBlock && block.Length > 0) text.Append(Decode(block.ToString())).Append('\n');
        return text.ToString().TrimEnd('\n');
    }

    // Kernel lines carry spaces, brackets or colons; base64 lines never do.
    private static bool IsBase64Line(string line)
        => line.Length > 0 && line.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=');

    private static string Decode(string base64)
    {
        try
        {
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            // A kernel message split a base64 line; the status is still right, say so in the output.
            return $"<output garbled on the serial line; raw base64 follows>\n{base64}";
        }
    }
}
