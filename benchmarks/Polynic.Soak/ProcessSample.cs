using System.Globalization;

namespace Polynic.Soak;

/// <summary>
/// What the server process holds at one moment (from /proc): resident memory — in all, its own
/// (anonymous: heaps, stacks) and shared (the guests' memfd RAM it has mapped for DMA and touched,
/// bounded by the guests' RAM, so it grows as DMA reaches pages it had not reached before) —
/// threads and open descriptors.
/// </summary>
internal readonly record struct ProcessUsage(long RssKiB, long RssAnonKiB, long RssShmemKiB, int Threads, int Fds)
{
    /// <summary>Reads /proc/PID/status (VmRSS, Threads) and counts /proc/PID/fd; null when the process is gone.</summary>
    public static ProcessUsage? Read(int pid)
    {
        try
        {
            long rss = 0, anon = 0, shmem = 0;
            int threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = KiB(line);
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = KiB(line);
                else if (line.StartsWith("RssShmem:", StringComparison.Ordinal)) shmem = KiB(line);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
            }
            return new ProcessUsage(rss, anon, shmem, threads, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long KiB(string line) => long.Parse(line[(line.IndexOf(':') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
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
