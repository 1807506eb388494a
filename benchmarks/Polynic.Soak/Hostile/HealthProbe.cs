using System.Diagnostics;

namespace Polynic.Soak.Hostile;

/// <summary>A well-behaved vfio-user client: VERSION, then the PCI vendor and device id from config space.</summary>
internal static class HealthProbe
{
    /// <summary>The id dword (device &lt;&lt; 16 | vendor) of the NIC on <paramref name="socketPath"/>, and how long the exchange took; null id if it failed.</summary>
    public static async Task<(uint? Id, TimeSpan Took)> ProbeAsync(string socketPath, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var c = AttackerConnection.Connect(socketPath);
            if (await c.VersionAsync(timeout) is not { IsError: false }) return (null, clock.Elapsed);
            return (await c.ReadConfig32Async(0, timeout), clock.Elapsed);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
        {
            return (null, clock.Elapsed);
        }
    }

    /// <summary>Retries <see cref="ProbeAsync"/> until it succeeds or <paramref name="within"/> passed (the NIC serves one client at a time).</summary>
    public static async Task<bool> ServesAsync(string socketPath, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if ((await ProbeAsync(socketPath, TimeSpan.FromSeconds(5))).Id is not null) return true;
            await Task.Delay(500);
        }
        return false;
    }
}
