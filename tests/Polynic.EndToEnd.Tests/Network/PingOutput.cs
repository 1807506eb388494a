using System.Text.RegularExpressions;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>Reads ping's summary line, in both busybox's and iputils' wording.</summary>
internal static partial class PingOutput
{
    /// <summary>Asserts that all <paramref name="count"/> echo requests were answered.</summary>
    public static void AssertAllAnswered(string output, int count)
    {
        var m = Summary().Match(output);
        Assert.True(m.Success, "no ping summary in:\n" + output);
        Assert.Equal((count, count), (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)));
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) (?:packets )?received")]
    private static partial Regex Summary();
}
