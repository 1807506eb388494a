using System.Text;

namespace Polynic.Rig.Guests;

/// <summary>
/// The whole serial console of one guest, in memory (for failure messages) and in a file
/// (for a person after the test). Splits QEMU's byte stream into lines for the protocol.
/// </summary>
internal sealed class SerialLog : IDisposable
{
    // Bounds memory if a guest floods the console; the file still gets everything.
    private const int MaxLinesInMemory = 200_000;

    private readonly Lock gate = new();
    private readonly List<string> lines = [];
    private readonly StreamWriter file;
    private readonly StringBuilder partial = new();
    private readonly Decoder decoder = Encoding.UTF8.GetDecoder();

    /// <summary>Logs into <paramref name="stream"/> (which it owns), the file at <paramref name="path"/>.</summary>
    public SerialLog(string path, Stream stream)
    {
        Path = path;
        file = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>Splits <paramref name="bytes"/> into lines, logs each and hands it to <paramref name="onLine"/>.</summary>
    public void Append(ReadOnlySpan<byte> bytes, Action<string> onLine)
    {
        Span<char> chars = stackalloc char[bytes.Length + 8];
        var count = decoder.GetChars(bytes, chars, flush: false);
        var complete = new List<string>();
        lock (gate)
        {
            foreach (var c in chars[..count])
            {
                if (c == '\r') continue;
                if (c != '\n')
                {
                    partial.Append(c);
                    continue;
                }
                var line = partial.ToString();
                partial.Clear();
                complete.Add(line);
                if (lines.Count < MaxLinesInMemory) lines.Add(line);
                try { file.WriteLine(line); } catch (ObjectDisposedException) { }
            }
        }
        foreach (var line in complete) onLine(line);
    }

    /// <summary>Records what the host sent, so the log reads as a conversation; not seen by the protocol.</summary>
    public void Note(string text)
    {
        var line = HostPrefix + text;
        lock (gate)
        {
            if (lines.Count < MaxLinesInMemory) lines.Add(line);
            try { file.WriteLine(line); } catch (ObjectDisposedException) { }
        }
    }

    /// <summary>The prefix of lines the host sent (see <see cref="Note"/>).</summary>
    public const string HostPrefix = "host> ";

    /// <summary>The last lines seen, including an unterminated one.</summary>
    public IReadOnlyList<string> Tail(int count = 40)
    {
        lock (gate)
        {
            var tail = lines.TakeLast(count).ToList();
            if (partial.Length > 0) tail.Add(partial.ToString());
            return tail;
        }
    }

    /// <summary>Everything seen so far.</summary>
    public string Text
    {
        get
        {
            lock (gate) return string.Join('\n', lines) + (partial.Length > 0 ? "\n" + partial : "");
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (partial.Length > 0) try { file.WriteLine(partial.ToString()); } catch (ObjectDisposedException) { }
            file.Dispose();
        }
    }
}
