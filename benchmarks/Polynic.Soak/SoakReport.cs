using System.Globalization;
using System.Text;
using Polynic.Soak.Hostile;

namespace Polynic.Soak;

/// <summary>The soak's markdown report: settings, the samples, what failed, and whether the server's footprint stayed flat after warm-up.</summary>
internal static class SoakReport
{
    // Growth allowed between the first sample after warm-up and the last before calling it not flat.
    private const long RssSlackKiB = 32 * 1024;
    private const int ThreadSlack = 4, FdSlack = 8;

    public static string Render(SoakSettings settings, string environment, IReadOnlyList<ProcessSample> samples, IReadOnlyList<AttackRecord> attacks,
        IReadOnlyList<TransferRecord> problems, IReadOnlyList<string> fatal, bool finished)
    {
        var r = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        r.AppendLine(ci, $"# Polynic soak{(finished ? "" : " (in progress)")}");
        r.AppendLine();
        r.AppendLine(ci, $"- duration asked {settings.Duration}, ran {(samples.Count > 0 ? samples[^1].Elapsed : TimeSpan.Zero):hh\\:mm\\:ss}; {settings.Guests} guests (1 vCPU, {settings.GuestMemoryMiB} MiB, TCG); warm-up {settings.WarmUp}");
        r.AppendLine(ci, $"- {environment}");
        r.AppendLine();
        r.AppendLine("| t | RSS MiB | own (anon) | guest RAM (shmem) | threads | fds | transfers ok | failed | mismatches | MiB ok | flaps | fault episodes | attacks | NICs added/removed | probe | guest NICs connected |");
        r.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var s in samples)
        {
            r.AppendLine(ci, $"| {s.Elapsed:hh\\:mm\\:ss} | {(s.Usage is { } u ? $"{u.RssKiB / 1024.0:0.0} | {u.RssAnonKiB / 1024.0:0.0} | {u.RssShmemKiB / 1024.0:0.0}" : "gone | | ")} | {s.Usage?.Threads} | {s.Usage?.Fds} | {s.TransfersOk} | {s.TransfersFailed} | {s.Mismatches} | {s.BytesOk / 1048576.0:0} | {s.LinkFlaps} | {s.FaultEpisodes} | {s.Attacks} | {s.NicsAdded}/{s.NicsRemoved} | {(s.ProbeAnswered ? $"ok {s.ProbeTook.TotalMilliseconds:0} ms" : "**NO ANSWER**")} | {s.GuestNicsConnected}/{settings.Guests} |");
        }
        r.AppendLine();
        if (samples.Count > 0)
        {
            var last = samples[^1];
            r.AppendLine("## Totals");
            r.AppendLine();
            r.AppendLine(ci, $"- transfers: {last.TransfersOk} intact ({last.BytesOk / 1048576.0:0.0} MiB), {last.TransfersFailed} failed (no data compared), **{last.Mismatches} sha256 mismatches**; {last.TransfersRetried} intact ones needed a second or third fetch");
            r.AppendLine(ci, $"- link flaps {last.LinkFlaps}, fault episodes {last.FaultEpisodes}, NICs added/removed over the control socket {last.NicsAdded}/{last.NicsRemoved}");
            r.AppendLine(ci, $"- hostile-client attacks: {attacks.Count}; the NIC served a well-behaved client again after {attacks.Count(a => a.Recovered)} of them");
            r.AppendLine(ci, $"- probe of the idle NIC: answered in {samples.Count(s => s.ProbeAnswered)} of {samples.Count} samples, slowest {samples.Max(s => s.ProbeTook.TotalMilliseconds):0} ms");
            r.AppendLine();
            Footprint(r, settings, samples);
        }
        if (fatal.Count > 0)
        {
            r.AppendLine("## Fatal");
            r.AppendLine();
            foreach (var f in fatal) r.AppendLine(ci, $"- {f}");
            r.AppendLine();
        }
        r.AppendLine("## Attacks");
        r.AppendLine();
        foreach (var group in attacks.GroupBy(a => a.Name))
        {
            r.AppendLine(ci, $"- **{group.Key}** ×{group.Count()}, recovered {group.Count(a => a.Recovered)}, slowest recovery {group.Max(a => a.Recovery.TotalSeconds):0.0} s; last: {group.Last().Outcome}");
            foreach (var distinct in group.Select(a => a.Outcome).Distinct().Where(o => o != group.Last().Outcome).Take(3))
                r.AppendLine(ci, $"  - also: {distinct}");
        }
        r.AppendLine();
        r.AppendLine("## Transfers that failed or mismatched");
        r.AppendLine();
        if (problems.Count == 0) r.AppendLine("none");
        foreach (var p in problems.Take(40))
            r.AppendLine(ci, $"- {p.At:HH:mm:ss} g{p.From}→g{p.To} {p.Bytes / 1048576.0:0.0} MiB after {p.Took.TotalSeconds:0} s: {p.Result}: {p.Detail}");
        if (problems.Count > 40) r.AppendLine(ci, $"- … {problems.Count - 40} more");
        return r.ToString();
    }

    private static void Footprint(StringBuilder r, SoakSettings settings, IReadOnlyList<ProcessSample> samples)
    {
        var ci = CultureInfo.InvariantCulture;
        var measured = samples.Where(s => s.Usage is not null).ToList();
        var warm = measured.FirstOrDefault(s => s.Elapsed >= settings.WarmUp);
        r.AppendLine("## Server footprint");
        r.AppendLine();
        if (warm is null || measured.Count == 0)
        {
            r.AppendLine("no sample after warm-up");
            return;
        }
        var first = warm.Usage!.Value;
        var last = measured[^1].Usage!.Value;
        var after = measured.Where(s => s.Elapsed >= settings.WarmUp).Select(s => s.Usage!.Value).ToList();
        r.AppendLine("| | after warm-up | end | max after warm-up | flat |");
        r.AppendLine("|---|---:|---:|---:|---|");
        r.AppendLine(ci, $"| RSS MiB, in all | {first.RssKiB / 1024.0:0.0} | {last.RssKiB / 1024.0:0.0} | {after.Max(u => u.RssKiB) / 1024.0:0.0} | (see below) |");
        r.AppendLine(ci, $"| RSS MiB, own (anon) | {first.RssAnonKiB / 1024.0:0.0} | {last.RssAnonKiB / 1024.0:0.0} | {after.Max(u => u.RssAnonKiB) / 1024.0:0.0} | {Flat(last.RssAnonKiB - first.RssAnonKiB <= RssSlackKiB)} |");
        r.AppendLine(ci, $"| RSS MiB, guest RAM (shmem) | {first.RssShmemKiB / 1024.0:0.0} | {last.RssShmemKiB / 1024.0:0.0} | {after.Max(u => u.RssShmemKiB) / 1024.0:0.0} | bounded by {settings.Guests} × {settings.GuestMemoryMiB} MiB |");
        r.AppendLine(ci, $"| threads | {first.Threads} | {last.Threads} | {after.Max(u => u.Threads)} | {Flat(last.Threads - first.Threads <= ThreadSlack)} |");
        r.AppendLine(ci, $"| open fds | {first.Fds} | {last.Fds} | {after.Max(u => u.Fds)} | {Flat(last.Fds - first.Fds <= FdSlack)} |");
        r.AppendLine();
        r.AppendLine(ci, $"Flat means the end is at most {RssSlackKiB / 1024} MiB (own memory), {ThreadSlack} threads, {FdSlack} fds above the first sample after warm-up (t = {warm.Elapsed:hh\\:mm\\:ss}). The shared part is the guests' memfd RAM the server has mapped for DMA and touched: it grows while DMA reaches pages it had not reached before and cannot pass the guests' RAM.");
        r.AppendLine();
    }

    private static string Flat(bool flat) => flat ? "yes" : "**no**";

    public static bool IsFlat(SoakSettings settings, IReadOnlyList<ProcessSample> samples)
    {
        var measured = samples.Where(s => s.Usage is not null).ToList();
        var warm = measured.FirstOrDefault(s => s.Elapsed >= settings.WarmUp);
        if (warm is null) return true;
        var (first, last) = (warm.Usage!.Value, measured[^1].Usage!.Value);
        return last.RssAnonKiB - first.RssAnonKiB <= RssSlackKiB && last.Threads - first.Threads <= ThreadSlack && last.Fds - first.Fds <= FdSlack;
    }
}
