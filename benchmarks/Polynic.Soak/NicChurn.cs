using Polynic.Management.Control;
using Polynic.Soak.Hostile;

namespace Polynic.Soak;

/// <summary>
/// Adds a NIC through the control socket every 15–30 s — every other one with a tap, which the
/// server creates — checks that a client is served on its socket, and removes it again; then
/// checks that the tap is gone.
/// </summary>
internal sealed class NicChurn(ControlChannel control, SoakNetwork network, SoakCounters counters, Action<string> log)
{
    public async Task RunAsync(CancellationToken stop)
    {
        try
        {
            for (int k = 0; !stop.IsCancellationRequested; k++)
            {
                await Task.Delay(TimeSpan.FromSeconds(Random.Shared.Next(15, 31)), stop);
                string name = $"churn{k}";
                string tap = TapName(k);
                string spec = $"e1000:{network.Socket(name)},name={name},mac=52:54:00:51:{k / 256 % 256:x2}:{k % 256:x2}" + (k % 2 == 0 ? $",tap={tap}" : "");
                if (await control.SendAsync(new ControlRequest(ControlCommands.NicsAdd, Spec: spec)) is null) continue;
                Interlocked.Increment(ref counters.NicsAdded);
                if ((await HealthProbe.ProbeAsync(network.Socket(name), TimeSpan.FromSeconds(10))).Id is null)
                {
                    Interlocked.Increment(ref counters.ChurnProbesFailed);
                    log($"churn: {name} was added but did not serve a client");
                }
                if (await control.SendAsync(new ControlRequest(ControlCommands.NicsRemove, Name: name)) is not null)
                    Interlocked.Increment(ref counters.NicsRemoved);
                if (k % 2 == 0 && Directory.Exists($"/sys/class/net/{tap}"))
                {
                    Interlocked.Increment(ref counters.TapsLeft);
                    log($"churn: tap {tap} still exists after {name} was removed");
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The tap of churn NIC <paramref name="k"/>; all start with pnsoak so cleanup can find leftovers.</summary>
    public static string TapName(int k) => $"pnsoak{k % 10000}";
}
