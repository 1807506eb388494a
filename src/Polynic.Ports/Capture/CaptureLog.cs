using Microsoft.Extensions.Logging;

namespace Polynic.Ports.Capture;

/// <summary>The capture's log events (source-generated, no allocation when disabled).</summary>
internal static partial class CaptureLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
        Message = "Capture {Path}: {Count} frame(s) left out in the last {Seconds} s because the capture queue was full (the storage is slower than the traffic; {Total} in all). The NICs' traffic is not affected")]
    public static partial void QueueFull(ILogger logger, string path, long count, double seconds, long total);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error,
        Message = "Capture {Path} stopped: {Reason}. Further frames are counted as dropped; the NICs' traffic is not affected")]
    public static partial void Failed(ILogger logger, string path, string reason);
}
