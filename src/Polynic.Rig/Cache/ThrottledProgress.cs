using System.Diagnostics;

namespace Polynic.Rig.Cache;

/// <summary>
/// Forwards a chatty tool's output (debootstrap, apt) as progress: the first line and then at
/// most one line every few seconds, so a person sees that a long step is moving without
/// hundreds of "Unpacking ..." lines.
/// </summary>
internal sealed class ThrottledProgress(IProgress<string>? target, string step, TimeSpan interval)
{
    private readonly Stopwatch sinceLast = new();
    private readonly Lock gate = new();

    public void OnLine(string line)
    {
        if (target is null || string.IsNullOrWhiteSpace(line)) return;
        lock (gate)
        {
            if (sinceLast.IsRunning && sinceLast.Elapsed < interval) return;
            sinceLast.Restart();
        }
        var text = line.Trim();
        if (text.Length > 100) text = text[..100] + "...";
        target.Report($"  {step}: {text}");
    }
}
