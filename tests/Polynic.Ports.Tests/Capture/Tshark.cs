using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Capture;

/// <summary>
/// Reads capture files with the real tshark, so the tests check the files against Wireshark's
/// own pcapng reader rather than against our idea of the format. tshark is a required host tool
/// (CI's .ci/run installs it); without it these tests fail rather than skip.
/// </summary>
internal static class Tshark
{
    private static readonly string[] SearchPath = ["/usr/bin/tshark", "/usr/local/bin/tshark", "/usr/sbin/tshark"];

    private static string Executable =>
        SearchPath.FirstOrDefault(File.Exists)
        ?? throw new Xunit.Sdk.XunitException(
            "tshark is not installed: run `apt-get install tshark` (CI's .ci/run installs it). The capture tests read their files back with it.");

    /// <summary>
    /// tshark's frame.packet_flags_direction (printed as "0x00000001" by 4.0, "0x1" by others)
    /// in words.
    /// </summary>
    public static string Direction(string field) => Convert.ToInt32(field, 16) switch
    {
        0 => "unknown",
        1 => "inbound",
        2 => "outbound",
        var other => $"invalid {other}",
    };

    /// <summary>One row per packet with the given fields, tab-separated; fails on any reader error.</summary>
    public static string[][] Fields(string file, string? displayFilter, params string[] fields)
    {
        var arguments = new List<string> { "-r", file, "-n", "-T", "fields", "-E", "occurrence=f" };
        if (displayFilter is not null) arguments.AddRange(["-Y", displayFilter]);
        foreach (var field in fields) arguments.AddRange(["-e", field]);
        var result = HostCommand.Run(Executable, [.. arguments]);
        // tshark exits 0 only if it read the whole file; a cut-short or malformed block makes it 2.
        Assert.True(result.ExitCode == 0, $"tshark -r {file} failed ({result.ExitCode}): {result.Error.Trim()}");
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t')).ToArray();
    }
}
