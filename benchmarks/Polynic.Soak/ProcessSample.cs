using System.Globalization;

namespace Polynic.Soak;

/// <summary>What the server process holds at one moment: resident memory, threads, open descriptors (from /proc).</summary>
internal readonly record struct ProcessUsage(long RssKiB, int Threads, int Fds)
{
    /// <summary>Reads /proc/PID/status (VmRSS, Threads) and counts /proc/PID/fd; null when the process is gone.</summary>
    public static ProcessUsage? Read(int pid)
    {
        try
        {
            long rss = 0;
            int threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
            }
            return new ProcessUsage(rss, threads, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>One row of the soak's record, taken every ~30 s.</summary>
internal sealed record ProcessSample(
    TimeSpan Elapsed,
    ProcessUsage? Usage,
    long TransfersOk,
    long TransfersFailed,
    long Mismatches,
    long BytesOk,
    long LinkFlaps,
    long FaultEpisodes,
    int Attacks,
    long NicsAdded,
    long NicsRemoved,
    bool ProbeAnswered,
    TimeSpan ProbeTook,
    int GuestNicsConnected,
    long TransfersRetried);
