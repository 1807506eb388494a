using Microsoft.Extensions.Logging;

namespace Polynic.Cli;

/// <summary>Console logging for the CLI: one line per message with a timestamp, all on stderr so stdout stays for results.</summary>
internal static class Logging
{
    public static ILoggerFactory Create(LogLevel minimum) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(minimum);
        builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
