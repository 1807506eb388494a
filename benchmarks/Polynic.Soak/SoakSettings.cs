namespace Polynic.Soak;

/// <summary>The soak's knobs, from the command line.</summary>
/// <param name="Duration">How long the load runs (guest boot not included).</param>
/// <param name="Guests">Guests on the switch, each sending to the next in a ring.</param>
/// <param name="ReportPath">Where the markdown report is written (rewritten at every sample), or null.</param>
internal sealed record SoakSettings(TimeSpan Duration, int Guests, string? ReportPath)
{
    public int GuestMemoryMiB => 256;

    public TimeSpan SampleInterval => TimeSpan.FromSeconds(30);

    /// <summary>Samples before this are warm-up (JIT, pools, guests' first ARP and TCP state): a fifth of the run, at most 5 minutes.</summary>
    public TimeSpan WarmUp => TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(5).Ticks, Duration.Ticks / 5));
}
