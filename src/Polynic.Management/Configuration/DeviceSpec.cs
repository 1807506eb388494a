using Polynic.Core.Nic;

namespace Polynic.Management.Configuration;

/// <summary>
/// A device given on the command line instead of in a configuration file:
/// <c>PERSONALITY:SOCKET[,mac=52:54:00:..][,tap=IFNAME|,unplugged][,name=NIC][,msix=off][,OPTION=VALUE...]</c> (no port named: unplugged), e.g. <c>e1000:/run/polynic/nic0.sock,tap=pn0</c>.
/// </summary>
public static class DeviceSpec
{
    private static readonly HashSet<string> Reserved = new(["mac", "tap", "name", "msix"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Parses one specification; <paramref name="index"/> picks the default MAC and name.</summary>
    /// <exception cref="FormatException">The text is not a specification; the message says why.</exception>
    public static NicConfiguration Parse(string text, int index)
    {
        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new FormatException($"'{text}' is not PERSONALITY:SOCKET[,key=value...] (for example e1000:/tmp/nic0.sock,tap=pn0).");
        var parts = text[(colon + 1)..].Split(',');
        if (!Path.IsPathRooted(parts[0])) throw new FormatException($"socket path '{parts[0]}' in '{text}' must be absolute.");
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        bool unplugged = false;
        foreach (var part in parts.Skip(1))
        {
            // The port kinds that take no value are bare words, as in the configuration file's <unplugged/>.
            if (part.Equals("unplugged", StringComparison.OrdinalIgnoreCase))
            {
                unplugged = true;
                continue;
            }
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{part}' in '{text}' is not key=value.");
            settings[part[..eq]] = part[(eq + 1)..];
        }
        // Keys other than mac, tap, name and msix are the personality's own options (revision=0x20,
        // queuePairs=2): its module checks them when the NIC is created.
        var options = settings.Where(s => !Reserved.Contains(s.Key)).ToList();
        var mac = settings.TryGetValue("mac", out var m)
            ? (MacAddress.TryParse(m, out var parsed) ? parsed : throw new FormatException($"'{m}' is not a MAC address."))
            : NicSettings.ForIndex(index).Mac;
        if (unplugged && settings.ContainsKey("tap")) throw new FormatException($"'{text}' names two ports: unplugged and tap; give one.");
        PortConfiguration port = settings.TryGetValue("tap", out var tap)
            ? new TapPortConfiguration(tap, VnetHeader: true, BringUp: true)
            : new UnpluggedPortConfiguration();
        var personality = text[..colon];
        var name = settings.TryGetValue("name", out var n) ? n : $"{personality}{index}";
        bool msix = !settings.TryGetValue("msix", out var x) || x.ToLowerInvariant() switch
        {
            "on" or "true" => true,
            "off" or "false" => false,
            _ => throw new FormatException($"msix={x} in '{text}': say msix=on or msix=off."),
        };
        return new NicConfiguration(name, personality, parts[0], mac, options, port, null, 0, msix);
    }

    /// <summary>A configuration serving the given specifications, NIC i with default MAC i.</summary>
    /// <exception cref="FormatException">A specification is malformed.</exception>
    public static PolynicConfiguration ToConfiguration(IEnumerable<string> specs) =>
        new("command line", null, [], specs.Select(Parse).ToList());
}
