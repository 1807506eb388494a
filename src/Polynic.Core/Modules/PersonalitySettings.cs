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

    /// <summary>Personality-specific options by name (case-insensitive); empty when none were given.</summary>
    public IReadOnlyDictionary<string, string> Options { get; }

    /// <summary>The value of option <paramref name="name"/>, or null if it was not given.</summary>
    /// <param name="name">Option name, case-insensitive.</param>
    public string? GetOption(string name) => Options.TryGetValue(name, out var value) ? value : null;

    /// <summary>The value of option <paramref name="name"/>, or <paramref name="defaultValue"/> if it was not given.</summary>
    /// <param name="name">Option name, case-insensitive.</param>
    /// <param name="defaultValue">What to return when the option is absent.</param>
    public string GetOption(string name, string defaultValue) => GetOption(name) ?? defaultValue;
}
