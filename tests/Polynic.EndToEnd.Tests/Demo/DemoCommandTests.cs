using Polynic.EndToEnd.Tests.Modules;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Demo;

/// <summary>
/// The README's first command, run as a user would: <c>./polynic demo</c> from a cold guest
/// cache (a fresh POLYNIC_CACHE), and again from the warm one with <c>--dashboard</c>, stopped with Ctrl-C.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DemoCommandTests
{
    private static Task<(int ExitCode, string Output)> RunDemoAsync(string cache, string captures) =>
        PolynicProcess.RunAsync(Path.Combine(PolynicProcess.RepositoryRoot(), "polynic"), ["demo", "--capture-dir", captures],
            TimeSpan.FromMinutes(15), new Dictionary<string, string> { ["POLYNIC_CACHE"] = cache });

    /// <summary>
    /// <c>./polynic demo --dashboard</c>: waits for the dashboard line, checks the page, the NICs
    /// (both connected, frames moving) and the metrics through the printed URL and token, then
    /// sends SIGINT as Ctrl-C does and waits for the demo to stop.
    /// </summary>
    private static async Task<(int ExitCode, string Output)> RunDashboardDemoAsync(string cache, string captures)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Path.Combine(PolynicProcess.RepositoryRoot(), "polynic"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["demo", "--dashboard", "--capture-dir", captures]) start.ArgumentList.Add(a);
        start.Environment["POLYNIC_CACHE"] = cache;
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var dashboardLine = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Append(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
            if (line.StartsWith("Dashboard: ", StringComparison.Ordinal)) dashboardLine.TrySetResult(line["Dashboard: ".Length..]);
        }
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var first = await Task.WhenAny(dashboardLine.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(10)));
            Assert.True(first == dashboardLine.Task, "no dashboard URL was printed:\n" + output);
            var url = new Uri(dashboardLine.Task.Result);
            string token = url.Fragment.StartsWith("#token=", StringComparison.Ordinal) ? url.Fragment["#token=".Length..] : throw new Xunit.Sdk.XunitException($"the dashboard URL {url} carries no token");
            using var http = new HttpClient { BaseAddress = new Uri(url.GetLeftPart(UriPartial.Path)), Timeout = TimeSpan.FromSeconds(30) };
            var page = await http.GetAsync("");
            Assert.True(page.IsSuccessStatusCode, $"GET {http.BaseAddress}: {(int)page.StatusCode}");
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync("api/v1/nics")).StatusCode);
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            var nics = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("api/v1/nics")).RootElement;
            Assert.Equal(2, nics.GetArrayLength());
            Assert.All(nics.EnumerateArray(), n => Assert.True(n.GetProperty("connected").GetBoolean(), $"{n} is not connected"));
            // The guests' traffic keeps flowing while the dashboard is up.
            long Received() => System.Text.Json.JsonDocument.Parse(http.GetStringAsync("api/v1/nics/vm2/detail").Result).RootElement
                .GetProperty("counters").GetProperty("rx_frames").GetInt64();
            long before = Received();
            await Task.Delay(2000);
            Assert.True(Received() > before + 5, "vm2 received nothing in 2 s while the dashboard was up");
            string metrics = await http.GetStringAsync("metrics");
            Assert.Contains("polynic_nic_", metrics);
        }
        finally
        {
            if (!process.HasExited)
            {
                // Ctrl-C: SIGINT to the demo (./polynic execs it, so this is the demo's own pid). A
                // process started from a background job inherits SIGINT ignored (as the harness may
                // be); then SIGTERM, which the demo handles the same way, stands in for it.
                string pid = process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                string signal = SignalIgnored(process.Id, 2) ? "-TERM" : "-INT";
                lock (output) output.AppendLine($"(test: stopping the dashboard demo with kill {signal})");
                System.Diagnostics.Process.Start("kill", [signal, pid])!.WaitForExit();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                try { await process.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            }
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }

    /// <summary>Whether <paramref name="pid"/> ignores signal <paramref name="signal"/> (its SigIgn mask in /proc).</summary>
    private static bool SignalIgnored(int pid, int signal)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
    }

    [Fact]
    public async Task Demo_passes_from_a_cold_cache_and_again_from_a_warm_one()
    {
        var cache = Directory.CreateTempSubdirectory("polynic-cold-cache-");
        var captures = Directory.CreateTempSubdirectory("polynic-demo-captures-");
        try
        {
            var cold = await RunDemoAsync(cache.FullName, captures.FullName);
            Assert.True(cold.ExitCode == 0, cold.Output);
            Assert.Contains("Demo passed.", cold.Output);
            Assert.Contains("debootstrap", cold.Output, StringComparison.OrdinalIgnoreCase);

            // Warm, with the dashboard: the printed URL serves the page and, with the token, the API
            // and metrics while the guests' traffic flows; Ctrl-C stops everything and passes.
            var warm = await RunDashboardDemoAsync(cache.FullName, captures.FullName);
            Assert.True(warm.ExitCode == 0, warm.Output);
            Assert.Contains("Demo passed.", warm.Output);
            Assert.DoesNotContain("debootstrap", warm.Output, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Stopping: the API, both guests and the server.", warm.Output);

            // The capture holds the guests' echo requests and replies, readable by tshark.
            var capture = Directory.GetFiles(captures.FullName, "*.pcapng").Order(StringComparer.Ordinal).Last();
            var icmp = await HostCommand.RunAsync("tshark", ["-r", capture, "-Y", "icmp", "-T", "fields", "-e", "icmp.type"], TimeSpan.FromMinutes(2));
            var types = icmp.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            Assert.Contains("8", types);
            Assert.Contains("0", types);

            // Nothing the demo started is left: no QEMU, no socket directory.
            var qemu = await HostCommand.RunAsync("pgrep", ["-f", "polynic-demo-"], check: false);
            Assert.True(string.IsNullOrWhiteSpace(qemu), "left running: " + qemu);
        }
        finally
        {
            cache.Delete(recursive: true);
            captures.Delete(recursive: true);
        }
    }
}
