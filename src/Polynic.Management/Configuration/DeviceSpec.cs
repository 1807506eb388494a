using Polynic.Core.Nic;

namespace Polynic.Management.Configuration;

/// <summary>
/// A device given on the command line instead of in a configuration file:
/// <c>PERSONALITY:SOCKET[,mac=52:54:00:..][,PORT][,name=NIC][,msix=off][,OPTION=VALUE...]</c>, e.g.
/// <c>e1000:/run/polynic/nic0.sock,tap=pn0</c>. PORT is one of the configuration file's port kinds:
/// <c>tap=IFNAME</c>, <c>switch=NAME[,vlan=N|,trunk=N+M+..]</c>, <c>stream=ADDRESS</c> (connect),
/// <c>stream-server=ADDRESS</c> (listen), <c>dgram=LOCAL&gt;REMOTE</c> or <c>unplugged</c> (also when
/// none is named); an ADDRESS is <c>unix:/path</c>, <c>IPv4:port</c> or <c>[IPv6]:port</c>.
/// </summary>
public static class DeviceSpec
{
    private static readonly string[] PortKeys = ["tap", "switch", "stream", "stream-server", "dgram"];
    private static readonly HashSet<string> Reserved = new(["mac", "name", "msix", "vlan", "trunk", .. PortKeys], StringComparer.OrdinalIgnoreCase);

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
        // Keys other than the port's, mac, name and msix are the personality's own options (revision=0x20,
        // queuePairs=2): its module checks them when the NIC is created.
        var options = settings.Where(s => !Reserved.Contains(s.Key)).ToList();
        var mac = settings.TryGetValue("mac", out var m)
            ? (MacAddress.TryParse(m, out var parsed) ? parsed : throw new FormatException($"'{m}' is not a MAC address."))
            : NicSettings.ForIndex(index).Mac;
        var named = PortKeys.Where(settings.ContainsKey).Concat(unplugged ? ["unplugged"] : []).ToArray();
        if (named.Length > 1) throw new FormatException($"'{text}' names more than one port ({string.Join(", ", named)}); give one.");
        if ((settings.ContainsKey("vlan") || settings.ContainsKey("trunk")) && !settings.ContainsKey("switch"))
            throw new FormatException($"'{text}': vlan= and trunk= go with switch=NAME.");
        PortConfiguration port = named.FirstOrDefault() switch
        {
            "tap" => new TapPortConfiguration(NonEmpty(settings, "tap", text), VnetHeader: true, BringUp: true),
            "switch" => SwitchPort(settings, text),
            "stream" => new StreamPortConfiguration(false, Address(settings["stream"], text)),
            "stream-server" => new StreamPortConfiguration(true, Address(settings["stream-server"], text)),
            "dgram" => Dgram(settings["dgram"], text),
            _ => new UnpluggedPortConfiguration(),
        };
        var personality = text[..colon];
        var name = settings.TryGetValue("name", out var n) ? Name(n, "name", text) : $"{personality}{index}";
        bool msix = !settings.TryGetValue("msix", out var x) || x.ToLowerInvariant() switch
        {
            "on" or "true" => true,
            "off" or "false" => false,
            _ => throw new FormatException($"msix={x} in '{text}': say msix=on or msix=off."),
        };
        return new NicConfiguration(name, personality, parts[0], mac, options, port, null, 0, msix);
    }

    /// <summary>A configuration serving the given specifications, NIC i with default MAC i, and the switches they name.</summary>
    /// <exception cref="FormatException">A specification is malformed.</exception>
    public static PolynicConfiguration ToConfiguration(IEnumerable<string> specs)
    {
        var nics = specs.Select(Parse).ToList();
        var switches = nics.Select(n => n.Port).OfType<SwitchPortConfiguration>().Select(p => p.Switch).Distinct(StringComparer.Ordinal)
            .Select(name => new SwitchConfiguration(name, DefaultSwitchAging)).ToList();
        return new("command line", null, switches, nics);
    }

    /// <summary>MAC aging of a switch named only on the command line (the configuration file's default).</summary>
    public static readonly TimeSpan DefaultSwitchAging = TimeSpan.FromSeconds(300);

    private static string NonEmpty(Dictionary<string, string> settings, string key, string text) =>
        settings[key] is { Length: > 0 } value ? value : throw new FormatException($"{key}= in '{text}' needs a value.");

    /// <summary>
    /// A NIC or switch name as the configuration schema allows it (nameType): it names files
    /// (captures), metrics labels and log lines, so no path separators, spaces or controls.
    /// </summary>
    private static string Name(string value, string key, string text) =>
        System.Text.RegularExpressions.Regex.IsMatch(value, "^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
            ? value
            : throw new FormatException($"{key}={value} in '{text}': a name is a letter, then up to 31 letters, digits, '_', '.' or '-'.");

    private static SwitchPortConfiguration SwitchPort(Dictionary<string, string> settings, string text)
    {
        string name = Name(NonEmpty(settings, "switch", text), "switch", text);
        if (settings.ContainsKey("vlan") && settings.ContainsKey("trunk")) throw new FormatException($"'{text}': a switch port is access (vlan=) or trunk (trunk=), not both.");
        if (settings.TryGetValue("trunk", out var trunk))
            return new SwitchPortConfiguration(name, 1, trunk.Split('+').Select(v => Vlan(v, text)).ToArray());
        return new SwitchPortConfiguration(name, settings.TryGetValue("vlan", out var vlan) ? Vlan(vlan, text) : (ushort)1, null);
    }

    private static ushort Vlan(string value, string text) =>
        ushort.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var vlan) && vlan is >= 1 and <= 4094
            ? vlan
            : throw new FormatException($"VLAN '{value}' in '{text}' is not 1-4094.");

    private static DgramPortConfiguration Dgram(string value, string text)
    {
        int arrow = value.IndexOf('>');
        if (arrow <= 0) throw new FormatException($"dgram={value} in '{text}': give dgram=LOCAL>REMOTE, e.g. dgram=127.0.0.1:5000>127.0.0.1:5001.");
        return new DgramPortConfiguration(Address(value[..arrow], text), Address(value[(arrow + 1)..], text));
    }

    /// <summary>Checks a socket address as the configuration schema does: <c>unix:/path</c>, <c>IPv4:port</c>, <c>[IPv6]:port</c>.</summary>
    private static string Address(string value, string text)
    {
        const string expected = "give unix:/absolute/path, IPv4:port or [IPv6]:port";
        if (value.StartsWith("unix:", StringComparison.Ordinal))
            return Path.IsPathRooted(value[5..]) ? value : throw new FormatException($"'{value}' in '{text}': {expected}.");
        int colon = value.LastIndexOf(':');
        if (colon <= 0
            || !ushort.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
            || !System.Net.IPAddress.TryParse(value[..colon].Trim('[', ']'), out var address)
            || (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) != value.StartsWith('['))
            throw new FormatException($"'{value}' in '{text}': {expected}.");
        return value;
    }
}
