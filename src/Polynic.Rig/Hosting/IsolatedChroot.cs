namespace Polynic.Rig.Hosting;

/// <summary>
/// Builds the command line that runs a program inside the trixie root. Everything happens
/// in a private mount namespace (unshare), so the /dev, /proc and bind mounts it needs
/// vanish with the process: nothing is ever left mounted on the host, even after a kill -9.
/// </summary>
internal static class IsolatedChroot
{
    /// <summary>A host directory made visible inside the root at the same or another path.</summary>
    public readonly record struct Bind(string HostPath, string PathInRoot);

    // Positional parameters instead of string splicing: paths never pass through shell quoting.
    // The watcher kills the program (which takes over this shell's pid with exec) once the
    // owning Polynic process is gone, however it died (kill -9 included), so no QEMU outlives
    // the process that started it; it ends by itself within a second once the program exits.
    private const string Script =
        "set -e\n" +
        "owner=$1; r=$2; n=$3; shift 3\n" +
        "me=$$\n" +
        "( while kill -0 \"$owner\" 2>/dev/null && kill -0 \"$me\" 2>/dev/null; do sleep 1; done; " +
        // Only a process still chrooted into this root is ours: a pid reused after exit is not.
        "[ \"$(readlink /proc/$me/root)\" = \"$r\" ] && kill -9 \"$me\" 2>/dev/null ) </dev/null >/dev/null 2>&1 &\n" +
        "mount --rbind /dev \"$r/dev\"\n" +
        "mount -t proc proc \"$r/proc\"\n" +
        "i=0\n" +
        "while [ $i -lt $n ]; do mkdir -p \"$r$2\"; mount --rbind \"$1\" \"$r$2\"; shift 2; i=$((i+1)); done\n" +
        "exec chroot \"$r\" \"$@\"\n";

    /// <summary>The program to start on the host.</summary>
    public const string Launcher = "unshare";

    /// <summary>Arguments for <see cref="Launcher"/> that run <paramref name="command"/> in <paramref name="root"/>.</summary>
    public static IReadOnlyList<string> Arguments(string root, IEnumerable<Bind> binds, IEnumerable<string> command)
    {
        var bindList = binds.ToList();
        var arguments = new List<string>
        {
            "--mount", "--propagation", "private", "--", "/bin/sh", "-c", Script, "polynic-chroot",
            Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), root, bindList.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var bind in bindList)
        {
            arguments.Add(bind.HostPath);
            arguments.Add(bind.PathInRoot);
        }
        arguments.AddRange(command);
        return arguments;
    }

    /// <summary>Runs a command in the root (with /dev and /proc) and throws with its output unless it succeeds.</summary>
    public static Task<ProcessOutcome> RunCheckedAsync(
        string what, string root, IEnumerable<string> command, TimeSpan timeout,
        CancellationToken cancellationToken, Action<string>? onLine = null)
        => HostProcess.RunCheckedAsync(what, Launcher, Arguments(root, [], command), timeout, cancellationToken, onLine, AptEnvironment);

    /// <summary>Keeps apt and dpkg from asking questions or reading the host's locale.</summary>
    public static readonly IReadOnlyDictionary<string, string> AptEnvironment = new Dictionary<string, string>
    {
        ["DEBIAN_FRONTEND"] = "noninteractive",
        ["LC_ALL"] = "C.UTF-8",
        ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin",
    };
}
