using System.Diagnostics;

namespace Polynic.Ports.Tests.Support;

/// <summary>Runs iproute2 and friends; the tests use Linux itself as the peer of a tap.</summary>
internal static class HostCommand
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish");
        }
        return new Result(process.ExitCode, output.Result, error);
    }

    public static string Check(string file, params string[] arguments)
    {
        var result = Run(file, arguments);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({result.ExitCode}): {result.Error.Trim()}");
        return result.Output;
    }

    public static bool InterfaceExists(string name) => Directory.Exists($"/sys/class/net/{name}");
}
