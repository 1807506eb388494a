using System.Diagnostics;
using System.Text;

namespace Polynic.Sdk.Tests;

/// <summary>The output of one <c>dotnet</c> command.</summary>
internal sealed record DotnetResult(string Command, int ExitCode, string Output)
{
    /// <summary>For assertion messages: the command, its exit code and its output.</summary>
    public override string ToString() => $"dotnet {Command} exited with {ExitCode}:\n{Output}";
}

/// <summary>
/// Runs the <c>dotnet</c> CLI as a module author would, in a child process. The child gets this
/// process's environment minus what the outer <c>dotnet test</c> put there for its own MSBuild
/// and test host, no MSBuild node reuse and no build servers, so nothing it starts outlives it.
/// </summary>
internal static class DotnetCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>The dotnet host that runs these tests (the SDK sets DOTNET_HOST_PATH), else dotnet from PATH.</summary>
    private static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> in <paramref name="directory"/> and waits for it.</summary>
    public static DotnetResult Run(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Host)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in start.Environment.Keys.ToArray())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST_", StringComparison.Ordinal)
                || name.StartsWith("TESTINGPLATFORM_", StringComparison.Ordinal))
                start.Environment.Remove(name);
        }
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string command = string.Join(' ', arguments);
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output) return new DotnetResult(command, -1, $"timed out after {Timeout}\n{output}");
        }
        process.WaitForExit();   // drains the asynchronous output readers
        lock (output) return new DotnetResult(command, process.ExitCode, output.ToString());
    }

    /// <summary>Runs a command that must succeed; fails the test with its output otherwise.</summary>
    public static DotnetResult Succeed(string directory, params string[] arguments)
    {
        var result = Run(directory, arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }
}
