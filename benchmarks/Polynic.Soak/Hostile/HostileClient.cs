using System.Diagnostics;

namespace Polynic.Soak.Hostile;

/// <summary>One attack as it went: when, which, what the server did, how long the NIC took to serve a well-behaved client again.</summary>
internal sealed record AttackRecord(DateTime At, string Name, string Outcome, TimeSpan Took, bool Recovered, TimeSpan Recovery);

/// <summary>
/// Runs the attacks of <see cref="Attacks"/> in a loop against one NIC until stopped, and after
/// each checks that the NIC serves a well-behaved client again (its one connection slot is free).
/// </summary>
internal sealed class HostileClient(string socketPath, Action<string> log)
{
    private readonly List<AttackRecord> _records = [];

    public IReadOnlyList<AttackRecord> Records
    {
        get { lock (_records) return [.. _records]; }
    }

    public async Task RunAsync(CancellationToken stop)
    {
        for (int round = 0; !stop.IsCancellationRequested; round++)
        {
            var (name, run) = Attacks.All[round % Attacks.All.Count];
            var clock = Stopwatch.StartNew();
            string outcome;
            try
            {
                outcome = await run(socketPath).WaitAsync(TimeSpan.FromMinutes(3), stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                outcome = $"attack failed: {e.GetType().Name}: {e.Message}";
            }
            var took = clock.Elapsed;
            clock.Restart();
            bool recovered = await HealthProbe.ServesAsync(socketPath, TimeSpan.FromSeconds(60));
            var record = new AttackRecord(DateTime.UtcNow, name, outcome, took, recovered, clock.Elapsed);
            lock (_records) _records.Add(record);
            log($"attack '{name}' ({took.TotalSeconds:0.0} s): {outcome}; NIC {(recovered ? $"serves again after {record.Recovery.TotalSeconds:0.0} s" : "DOES NOT SERVE a client again within 60 s")}");
            try { await Task.Delay(TimeSpan.FromSeconds(2), stop); }
            catch (OperationCanceledException) { return; }
        }
    }
}
