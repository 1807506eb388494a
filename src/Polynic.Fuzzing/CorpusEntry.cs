using System.Globalization;
using System.Text;

namespace Polynic.Fuzzing;

/// <summary>
/// A run worth replaying: which fuzzer, which target, the run's seed and how many operations to
/// replay, plus the fuzzer's settings that shape the run. Stored one per file as <c>key=value</c>
/// lines (<c>#</c> starts a comment), under <c>CORPUS/target/seed.txt</c>, so every crasher found
/// stays a regression test.
/// </summary>
/// <param name="Fuzzer">The fuzzer that wrote it, e.g. <c>devices</c>.</param>
/// <param name="Target">What it fuzzed, e.g. a personality name.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="Operations">Operations to replay (the failing one included).</param>
/// <param name="Settings">Other settings the run depends on, by name.</param>
/// <param name="Note">Why it was kept (the failure it found); informational.</param>
public sealed record CorpusEntry(string Fuzzer, string Target, ulong Seed, long Operations,
    IReadOnlyDictionary<string, string> Settings, string? Note = null)
{
    /// <summary>The file name of the entry: the seed in hexadecimal.</summary>
    public string FileName => $"{Seed:x16}.txt";

    /// <summary>A setting's value, or <paramref name="fallback"/> if the entry does not have it.</summary>
    public long GetInteger(string name, long fallback) =>
        Settings.TryGetValue(name, out var text) && TryParse(text, out ulong value) ? (long)value : fallback;

    /// <summary>The entry as file text.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        if (Note is not null)
            foreach (var line in Note.Split('\n')) text.Append("# ").AppendLine(line.TrimEnd('\r'));
        text.AppendLine($"fuzzer={Fuzzer}");
        text.AppendLine($"target={Target}");
        text.AppendLine($"seed=0x{Seed:x16}");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"operations={Operations}"));
        foreach (var (name, value) in Settings.OrderBy(s => s.Key, StringComparer.Ordinal)) text.AppendLine($"{name}={value}");
        return text.ToString();
    }

    /// <summary>Writes the entry to <c><paramref name="corpus"/>/target/seed.txt</c> and returns the path.</summary>
    public string Write(string corpus)
    {
        string directory = Path.Combine(corpus, Target);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        File.WriteAllText(path, Format());
        return path;
    }

    /// <summary>Parses file text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="FormatException">A line is not <c>key=value</c>, or fuzzer, target, seed or operations is missing or malformed.</exception>
    public static CorpusEntry Parse(string text, string source)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var note = new StringBuilder();
        int number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                note.AppendLine(line[1..].Trim());
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0) throw new FormatException($"{source}:{number}: expected key=value, found '{line}'");
            values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }
        string Take(string key) => values.Remove(key, out var v) ? v : throw new FormatException($"{source}: no '{key}='");
        string fuzzer = Take("fuzzer"), target = Take("target"), seed = Take("seed"), operations = Take("operations");
        if (!TryParse(seed, out ulong s)) throw new FormatException($"{source}: seed '{seed}' is not a number");
        if (!TryParse(operations, out ulong n) || n == 0 || n > long.MaxValue) throw new FormatException($"{source}: operations '{operations}' is not a positive number");
        return new CorpusEntry(fuzzer, target, s, (long)n, values, note.Length == 0 ? null : note.ToString().TrimEnd());
    }

    /// <summary>Every entry under <paramref name="corpus"/> (all <c>*.txt</c> files, recursively), by path.</summary>
    /// <exception cref="FormatException">A file is malformed.</exception>
    public static IReadOnlyList<(string Path, CorpusEntry Entry)> ReadAll(string corpus)
    {
        if (!Directory.Exists(corpus)) return [];
        return Directory.EnumerateFiles(corpus, "*.txt", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(p => (p, Parse(File.ReadAllText(p), p)))
            .ToArray();
    }

    /// <summary>Parses decimal or <c>0x</c> hexadecimal.</summary>
    public static bool TryParse(string text, out ulong value) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
