using Microsoft.Extensions.Logging;

namespace Polynic.Ports.Sockets;

/// <summary>The socket ports' log events (source-generated, no allocation when disabled).</summary>
internal static partial class SocketLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Port} opened ({Mode})")]
    public static partial void Opened(ILogger logger, string port, string mode);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Port} link up: connected to {Peer}")]
    public static partial void Connected(ILogger logger, string port, string peer);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Port} link down: {Reason}")]
    public static partial void LinkDown(ILogger logger, string port, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Port} cannot connect: {Reason}; {Next}")]
    public static partial void ConnectFailed(ILogger logger, string port, string reason, string next);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "{Port} connect attempt failed again: {Reason}")]
    public static partial void ConnectRetryFailed(ILogger logger, string port, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error,
        Message = "{Port} receiver threw; the frame is dropped and counted (further faults are only counted)")]
    public static partial void ReceiverFault(ILogger logger, string port, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning,
        Message = "{Port} I/O thread did not stop within {Seconds} s (a receiver callback is blocked)")]
    public static partial void ThreadStuck(ILogger logger, string port, int seconds);
}
