using System.Globalization;
using Polynic.Ports.Faults;

namespace Polynic.Management.Configuration;

/// <summary>
/// Faults given as text, to change them on a running NIC (<c>polynic nics faults NAME SPEC</c>):
/// <c>[drop=P][,corrupt=P][,delayMs=N][,jitterMs=N][,linkDown=true|false][,direction=both|in|out]</c>.
/// Keys left out are zero (false); <c>none</c> alone clears every fault. <c>direction</c> picks
/// which frames the drop, corrupt and delay values apply to: those the NIC sends (<c>out</c>), those
/// it is given (<c>in</c>) or both (the default, as the configuration's <c>faults</c> element).
/// </summary>
public static class FaultSpec
{
    /// <summary>Parses one specification.</summary>
    /// <exception cref="FormatException">A key is unknown or a value out of range; the message says which.</exception>
    public static FaultSettings Parse(string text)
    {
        if (string.Equals(text.Trim(), "none", StringComparison.OrdinalIgnoreCase)) return FaultSettings.None;
        double drop = 0, corrupt = 0;
        int delayMs = 0, jitterMs = 0;
        bool linkDown = false;
        string direction = "both";
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{part}' in '{text}' is not key=value.");
            string key = part[..eq], value = part[(eq + 1)..];
            switch (key.ToLowerInvariant())
            {
                case "drop": drop = Probability(key, value); break;
                case "corrupt": corrupt = Probability(key, value); break;
                case "delayms": delayMs = Milliseconds(key, value); break;
                case "jitterms": jitterMs = Milliseconds(key, value); break;
                case "linkdown":
                    linkDown = bool.TryParse(value, out var b) ? b : value == "1" || (value == "0" ? false : throw new FormatException($"linkDown '{value}' is not true or false."));
                    break;
                case "direction":
                    direction = value.ToLowerInvariant() is "both" or "in" or "out" ? value.ToLowerInvariant() : throw new FormatException($"direction '{value}' is not both, in or out.");
                    break;
                default:
                    throw new FormatException($"unknown fault '{key}' in '{text}'; known: drop, corrupt, delayMs, jitterMs, linkDown, direction.");
            }
        }
        var faults = new DirectionFaults
        {
            DropProbability = drop,
            CorruptProbability = corrupt,
            Delay = TimeSpan.FromMilliseconds(delayMs),
            Jitter = TimeSpan.FromMilliseconds(jitterMs),
        };
        var settings = new FaultSettings
        {
            Outbound = direction is "both" or "out" ? faults : DirectionFaults.None,
            Inbound = direction is "both" or "in" ? faults : DirectionFaults.None,
            LinkDown = linkDown,
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new FormatException($"'{text}': {e.Message}", e);
        }
        return settings;
    }

    private static double Probability(string key, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p is >= 0 and <= 1
            ? p
            : throw new FormatException($"{key} '{value}' is not a probability within 0..1.");

    private static int Milliseconds(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? ms
            : throw new FormatException($"{key} '{value}' is not a whole number of milliseconds.");
}
