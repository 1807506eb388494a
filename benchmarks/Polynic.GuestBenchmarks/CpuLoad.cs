using System.Diagnostics;

namespace Polynic.GuestBenchmarks;

/// <summary>
/// CPU-bound processes beside the guests (<c>--cpu-load N</c>), standing in for a build on the
/// same host: each hashes /dev/zero for as long as the campaign runs. Killed on dispose.
/// </summary>
internal sealed class CpuLoad : IDisposable
{
    private readonly List<Process> _processes;

    private CpuLoad(List<Process> processes) => _processes = processes;

    public int Count => _processes.Count;

    public static CpuLoad Start(int count) =>
        new(Enumerable.Range(0, Math.Max(0, count)).Select(_ => Process.Start(new ProcessStartInfo("sha256sum", "/dev/zero") { RedirectStandardOutput = true })!).ToList());

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
    }
}
