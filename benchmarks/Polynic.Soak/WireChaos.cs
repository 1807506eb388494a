namespace Polynic.Soak;

/// <summary>
/// Pulls the cable of a random guest's NIC for 1–4 s, or makes its wire lossy, corrupting or slow
/// for 10–30 s, every 10–30 s, through the control socket (<c>nics faults</c>). Corruption is set on
/// frames the NIC is given only: those have their checksums completed before the byte is changed,
/// so the guest's TCP must notice; a frame a NIC sends may still carry a checksum to be filled in
/// later (offload), which would fill it in over the changed byte and hide it.
/// </summary>
internal sealed class WireChaos(ControlChannel control, int guests, SoakCounters counters, Action<string> log)
{
    private static readonly string[] Episodes =
    [
        "drop=0.02,delayMs=3,jitterMs=2",
        "corrupt=0.01,direction=in",
        "drop=0.05,direction=out",
        "delayMs=20,jitterMs=15",
    ];

    public async Task RunAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(Random.Shared.Next(10, 31)), stop);
                string nic = SoakNetwork.GuestNic(Random.Shared.Next(guests));
                if (Random.Shared.Next(5) < 3)
                {
                    if (await control.FaultsAsync(nic, "linkDown=true") is null) continue;
                    try { await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1000, 4001)), stop); }
                    finally { await control.FaultsAsync(nic, "none"); }
                    Interlocked.Increment(ref counters.LinkFlaps);
                }
                else
                {
                    var episode = Episodes[Random.Shared.Next(Episodes.Length)];
                    if (await control.FaultsAsync(nic, episode) is null) continue;
                    log($"faults on {nic}: {episode}");
                    try { await Task.Delay(TimeSpan.FromSeconds(Random.Shared.Next(10, 31)), stop); }
                    finally { await control.FaultsAsync(nic, "none"); }
                    Interlocked.Increment(ref counters.FaultEpisodes);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
