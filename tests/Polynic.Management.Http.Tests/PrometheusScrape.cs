using System.Globalization;

namespace Polynic.Management.Http.Tests;

/// <summary>One sample of a Prometheus text exposition: metric name, labels, value.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>Reads the samples of a scrape (the format's simple subset the exporter writes: no escapes in label values here).</summary>
internal sealed class PrometheusScrape
{
    private PrometheusScrape(string text, List<PrometheusSample> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }
    public IReadOnlyList<PrometheusSample> Samples { get; }

    public static PrometheusScrape Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            // NAME{LABELS} VALUE [TIMESTAMP]
            int end = line.Contains('{') ? line.LastIndexOf('}') + 1 : line.IndexOf(' ');
            string series = line[..end];
            string value = line[end..].Trim().Split(' ')[0];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string name = series;
            int open = series.IndexOf('{');
            if (open >= 0)
            {
                name = series[..open];
                foreach (var pair in series[(open + 1)..^1].Split("\",", StringSplitOptions.RemoveEmptyEntries))
                {
                    int eq = pair.IndexOf('=');
                    labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
                }
            }
            samples.Add(new PrometheusSample(name, labels, double.Parse(value, CultureInfo.InvariantCulture)));
        }
        return new PrometheusScrape(text, samples);
    }

    /// <summary>The value of the one sample of <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public long Value(string name, params (string Key, string Value)[] labels)
    {
        var matching = Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        if (matching.Count != 1)
            throw new Xunit.Sdk.XunitException($"{matching.Count} samples of {name} with {string.Join(',', labels.Select(l => $"{l.Key}={l.Value}"))} in the scrape:\n{Text}");
        return (long)matching[0].Value;
    }
}
