using Microsoft.Extensions.Logging;

namespace Polynic.Ports.Tap;

/// <summary>The tap port's log events (source-generated, no allocation when disabled).</summary>
internal static partial class TapLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Port} opened ({Mode}, {Origin})")]
    public static partial void Opened(ILogger logger, string port, string mode, string origin);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "{Port} link down: {Reason}")]
    public static partial void LinkDown(ILogger logger, string port, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error,
        Message = "{Port} receiver threw; the frame is dropped and counted (further faults are only counted)")]
    public static partial void ReceiverFault(ILogger logger, string port, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "{Port} receive thread did not stop within {Seconds} s (a receiver callback is blocked)")]
    public static partial void ReceiveThreadStuck(ILogger logger, string port, int seconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning,
        Message = "{Port} kernel refused receive offloads (TUNSETOFFLOAD): {Reason}; frames arrive complete")]
    public static partial void OffloadRefused(ILogger logger, string port, string reason);
}
