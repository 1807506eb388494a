using System.Globalization;

namespace Polynic.GuestBenchmarks;

/// <summary>
/// CPU time the guest's vCPU threads, the rest of QEMU, and the <c>polynic serve</c> process used
/// over an interval, from /proc/PID/task/TID/stat (utime + stime): whether a direction is bound by
/// the guest's CPUs (vCPUs near 100% each) or by waiting (vCPUs idle while frames are in flight).
/// </summary>
internal static class ThreadCpu
{
    /// <summary>Clock ticks per thread now, keyed by "pid/tid", with the group each thread counts in.</summary>
    public static Dictionary<string, (string Group, long Ticks)> Snapshot(int qemuPid)
    {
        var result = new Dictionary<string, (string, long)>();
        Add(result, qemuPid, comm => comm.StartsWith("CPU ", StringComparison.Ordinal) ? "vCPUs" : "QEMU other");
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == qemuPid) continue;
            // Each of polynic's threads keeps its name (the session, the port's receive thread, the
            // interrupt signaller, queue workers): the breakdown says which part of the device costs.
            if (Read(Path.Combine(dir, "comm"))?.Trim() == "polynic") Add(result, pid, comm => "polynic\t" + comm);
        }
        return result;
    }

    /// <summary>Each group's CPU over the interval, in percent of one core.</summary>
    public static string Difference(Dictionary<string, (string Group, long Ticks)> before, Dictionary<string, (string Group, long Ticks)> after, TimeSpan interval)
    {
        double ticksPerSecond = 100; // USER_HZ on Linux
        double Percent(IEnumerable<KeyValuePair<string, (string Group, long Ticks)>> threads) =>
            threads.Sum(a => a.Value.Ticks - (before.TryGetValue(a.Key, out var b) ? b.Ticks : 0)) / ticksPerSecond / interval.TotalSeconds * 100;
        var groups = after.GroupBy(a => a.Value.Group.Split('\t')[0]).Select(g => (g.Key, Percent: Percent(g)));
        string total = string.Join(", ", groups.OrderBy(g => g.Key).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Percent:0}%")));
        var threads = after.Where(a => a.Value.Group.Contains('\t')).GroupBy(a => a.Value.Group.Split('\t')[1])
            .Select(g => (Name: g.Key, Percent: Percent(g))).Where(t => t.Percent >= 1).OrderByDescending(t => t.Percent).ToList();
        return threads.Count == 0 ? total
            : total + " (" + string.Join(", ", threads.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.Percent:0}%"))) + ")";
    }

    private static void Add(Dictionary<string, (string, long)> into, int pid, Func<string, string> group)
    {
        string tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return;
        foreach (var task in Directory.EnumerateDirectories(tasks))
        {
            string? stat = Read(Path.Combine(task, "stat"));
            string? comm = Read(Path.Combine(task, "comm"));
            if (stat is null || comm is null) continue;
            // Fields after the command name, which may hold spaces and parentheses: ") state ppid ...".
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length < 13) continue;
            long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            into[$"{pid}/{Path.GetFileName(task)}"] = (group(comm.Trim()), ticks);
        }
    }

    private static string? Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
