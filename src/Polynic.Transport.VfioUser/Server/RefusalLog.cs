using Microsoft.Extensions.Logging;
using Polynic.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// Logs the commands a session refuses, at most <see cref="Burst"/> at once and then
/// <see cref="PerSecond"/> a second: a client that sends nothing but bad commands must not
/// fill the disk or drown the other devices' lines. The first line logged after a quiet spell
/// says how many were left out.
/// </summary>
internal sealed class RefusalLog(ILogger log, string function)
{
    internal const int Burst = 20;
    internal const int PerSecond = 5;

    private double _tokens = Burst;
    private long _refilledAt = Environment.TickCount64;
    private long _suppressed;

    /// <summary>Refusals not logged so far (for tests and diagnostics).</summary>
    public long SuppressedCount { get; private set; }

    /// <summary>Records a refused command; logs it if the budget allows.</summary>
    public void Refused(MessageHeader request, int errno, string reason)
    {
        lock (this)
        {
            long now = Environment.TickCount64;
            _tokens = Math.Min(Burst, _tokens + (now - _refilledAt) * PerSecond / 1000.0);
            _refilledAt = now;
            if (_tokens < 1)
            {
                _suppressed++;
                SuppressedCount++;
                return;
            }
            _tokens--;
            long skipped = _suppressed;
            _suppressed = 0;
            if (skipped == 0)
                log.LogWarning("{Function}: {Command} (ID {Id}) failed with {Errno}: {Reason}",
                    function, request.Command, request.MessageId, Errno.Describe(errno), reason);
            else
                log.LogWarning("{Function}: {Command} (ID {Id}) failed with {Errno}: {Reason} ({Skipped} more refusals were not logged)",
                    function, request.Command, request.MessageId, Errno.Describe(errno), reason, skipped);
        }
    }
}
