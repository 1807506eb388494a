using System.Diagnostics;
using Polynic.Rig;
using Polynic.Rig.Guests;

namespace Polynic.Soak;

/// <summary>One file copy between two guests, as the loop judged it.</summary>
internal sealed record TransferRecord(DateTime At, int From, int To, long Bytes, TimeSpan Took, string Result, string? Detail);

/// <summary>
/// Copies files from one guest to the next for as long as the soak runs: the sender writes a
/// fresh random file of 1–4 MiB and hashes it, busybox httpd serves it, the receiver fetches it
/// with wget and hashes what arrived. Equal sha256 or it is a mismatch; a fetch that fails
/// (link down too long, a timeout) is a failure, not a mismatch.
/// </summary>
internal sealed class TransferLoop(Guest from, int fromIndex, Guest to, int toIndex, SoakCounters counters, Action<TransferRecord> record)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    public async Task RunAsync(CancellationToken stop)
    {
        string file = $"to-g{toIndex}";
        string url = $"http://{SoakNetwork.Address(fromIndex)}:8080/{file}";
        while (!stop.IsCancellationRequested)
        {
            int blocks = Random.Shared.Next(16, 65); // 64 KiB blocks: 1..4 MiB
            var clock = Stopwatch.StartNew();
            TransferRecord result;
            try
            {
                var sent = Sha(await from.RunCheckedAsync(
                    $"dd if=/dev/urandom of=/tmp/www/{file}.new bs=64k count={blocks} 2>/dev/null && mv /tmp/www/{file}.new /tmp/www/{file} && sha256sum /tmp/www/{file}",
                    CommandTimeout, stop));
                clock.Restart();
                // Up to 3 attempts: a fetch that starts while the link is pulled fails at once (no ARP answer).
                var fetch = await to.RunAsync(
                    $"rm -f /tmp/in; for n in 1 2 3; do if wget -q -T 20 -O /tmp/in {url}; then sha256sum /tmp/in; wc -c < /tmp/in; echo attempts $n; exit 0; fi; rm -f /tmp/in; sleep 3; done; echo wget failed 3 times; exit 1",
                    CommandTimeout, stop);
                long bytes = blocks * 65536L;
                if (!fetch.Succeeded)
                {
                    result = new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, bytes, clock.Elapsed, "failed", OneLine(fetch.Output));
                }
                else
                {
                    // Earlier attempts' wget errors come first; the hash line names the file.
                    var lines = fetch.Output.Trim().Split('\n').Select(l => l.Trim()).ToArray();
                    int at = Array.FindLastIndex(lines, l => l.EndsWith(" /tmp/in", StringComparison.Ordinal));
                    if (at < 0) throw new FormatException("no sha256sum line in: " + OneLine(fetch.Output));
                    var received = Sha(lines[at]);
                    if (lines[^1] != "attempts 1") Interlocked.Increment(ref counters.TransfersRetried);
                    result = received == sent
                        ? new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, bytes, clock.Elapsed, "ok", null)
                        : new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, bytes, clock.Elapsed, "MISMATCH",
                            $"sent {sent} ({bytes} bytes), received {received} ({(at + 1 < lines.Length ? lines[at + 1] : "?")} bytes)");
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (GuestTimeoutException e)
            {
                if (stop.IsCancellationRequested) return;
                result = new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, blocks * 65536L, clock.Elapsed, "failed", "timeout: " + FirstLine(e.Message));
            }
            catch (FormatException e)
            {
                result = new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, blocks * 65536L, clock.Elapsed, "failed", e.Message);
            }
            catch (GuestCommandException e)
            {
                if (stop.IsCancellationRequested) return;
                result = new TransferRecord(DateTime.UtcNow, fromIndex, toIndex, blocks * 65536L, clock.Elapsed, "failed", "sender: " + FirstLine(e.Message));
            }
            switch (result.Result)
            {
                case "ok":
                    Interlocked.Increment(ref counters.TransfersOk);
                    Interlocked.Add(ref counters.BytesOk, result.Bytes);
                    break;
                case "MISMATCH":
                    Interlocked.Increment(ref counters.Mismatches);
                    break;
                default:
                    Interlocked.Increment(ref counters.TransfersFailed);
                    break;
            }
            if (result.Result != "ok") record(result);
        }
    }

    private static string Sha(string output)
    {
        var hash = output.Trim().Split(' ', 2)[0];
        return hash.Length == 64 ? hash : throw new FormatException("not a sha256sum line: " + output.Trim());
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0];

    private static string OneLine(string text) => string.Join(" / ", text.Trim().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
