using System.Globalization;
using Polynic.Core.Nic;

namespace Polynic.Core.Modules;

/// <summary>
/// What a personality factory is given for one NIC: the settings every NIC has (its MAC) and
/// the personality's own options as text, for example <c>revision="3"</c>.
/// </summary>
public sealed class PersonalitySettings
{
    private static readonly IReadOnlyDictionary<string, string> NoOptions =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the settings of one NIC.</summary>
    /// <param name="nic">The settings common to every NIC personality.</param>
    /// <param name="options">Personality-specific options; names are case-insensitive. Null for none.</param>
    /// <exception cref="ArgumentException">Two options have the same name (ignoring case).</exception>
    public PersonalitySettings(NicSettings nic, IEnumerable<KeyValuePair<string, string>>? options = null)
    {
        ArgumentNullException.ThrowIfNull(nic);
        Nic = nic;
        if (options is null)
        {
            Options = NoOptions;
            return;
        }
        var copy = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in options)
        {
            if (!copy.TryAdd(name, value)) throw new ArgumentException($"option '{name}' is given twice", nameof(options));
        }
        Options = copy;
    }

    /// <summary>The settings common to every NIC personality (the station address).</summary>
    public NicSettings Nic { get; }

    /// <summary>The station address; the same as <c>Nic.Mac</c>.</summary>
    public MacAddress Mac => Nic.Mac;

    /// <summary>
    /// The XML descriptor this personality was declared by, when its factory is the behaviour
    /// module of a descriptor (PCI identity, BARs, register map, EEPROM come from it); null for a
    /// personality declared by code alone.
    /// </summary>
    public PersonalityDescriptor? Descriptor { get; init; }

    /// <summary>Personality-specific options by name (case-insensitive); empty when none were given.</summary>
    public IReadOnlyDictionary<string, string> Options { get; }

    /// <summary>The value of option <paramref name="name"/>, or null if it was not given.</summary>
    /// <param name="name">Option name, case-insensitive.</param>
    public string? GetOption(string name) => Options.TryGetValue(name, out var value) ? value : null;

    /// <summary>The value of option <paramref name="name"/>, or <paramref name="defaultValue"/> if it was not given.</summary>
    /// <param name="name">Option name, case-insensitive.</param>
    /// <param name="defaultValue">What to return when the option is absent.</param>
    public string GetOption(string name, string defaultValue) => GetOption(name) ?? defaultValue;

    /// <summary>
    /// The value of integer option <paramref name="name"/>, decimal or <c>0x</c> hexadecimal, or
    /// <paramref name="defaultValue"/> if it was not given.
    /// </summary>
    /// <param name="name">Option name, case-insensitive.</param>
    /// <param name="defaultValue">What to return when the option is absent.</param>
    /// <param name="minimum">Smallest accepted value.</param>
    /// <param name="maximum">Largest accepted value.</param>
    /// <exception cref="ArgumentException">The value is not an integer in [<paramref name="minimum"/>, <paramref name="maximum"/>]; the message names the option.</exception>
    public long GetInteger(string name, long defaultValue, long minimum, long maximum)
    {
        var text = GetOption(name);
        if (string.IsNullOrEmpty(text)) return defaultValue;
        if (!TryParseInteger(text, out var value) || value < minimum || value > maximum)
            throw new ArgumentException($"option {name}='{text}' is not an integer in {minimum}..{maximum} (decimal or 0x hexadecimal)");
        return value;
    }

    /// <summary>
    /// Parses an integer as Polynic's configuration and descriptor files write them: decimal
    /// (optionally negative) or <c>0x</c> hexadecimal up to <see cref="long.MaxValue"/> (so a hex
    /// value never wraps to a negative one).
    /// </summary>
    /// <param name="text">The text, without surrounding blanks.</param>
    /// <param name="value">The value, or 0 when the text is not an integer.</param>
    /// <returns>Whether <paramref name="text"/> is an integer.</returns>
    public static bool TryParseInteger(string? text, out long value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text)) return false;
        if (!text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        if (!ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) || hex > long.MaxValue) return false;
        value = (long)hex;
        return true;
    }

    /// <summary>Names of the given options that are not in <paramref name="known"/>, for a factory to refuse typos.</summary>
    /// <param name="known">The option names the personality understands.</param>
    /// <exception cref="ArgumentException">Some option is unknown; the message lists the known ones.</exception>
    public void RejectUnknownOptions(params string[] known)
    {
        foreach (var key in Options.Keys)
        {
            if (!known.Contains(key, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"unknown option '{key}' (known: {(known.Length == 0 ? "none" : string.Join(", ", known))})");
        }
    }
}
