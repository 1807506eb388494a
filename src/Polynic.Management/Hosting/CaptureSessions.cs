using Microsoft.Extensions.Logging;
using Polynic.Ports.Capture;

namespace Polynic.Management.Hosting;

/// <summary>A capture started at run time.</summary>
/// <param name="Id">Its name in the API.</param>
/// <param name="Nic">The NIC it records (both directions, as the NIC sent and saw them).</param>
/// <param name="State">running or stopped.</param>
/// <param name="Started">When it started.</param>
/// <param name="Stopped">When it stopped.</param>
/// <param name="Packets">Frames queued into the capture.</param>
/// <param name="LeftOut">Frames left out because the storage fell behind (the frames themselves went on).</param>
/// <param name="Bytes">Size of the capture file now.</param>
/// <param name="File">The capture file on the server.</param>
public sealed record CaptureInfo(string Id, string Nic, string State, DateTimeOffset Started, DateTimeOffset? Stopped, long Packets, long LeftOut, long Bytes, string File);

/// <summary>
/// Captures of single NICs started and stopped while the server runs (the HTTP API's), each its own
/// pcapng file in a private directory, recorded at the NIC's <see cref="ServedFunction.Captures"/>
/// point; and live captures written into a stream for as long as a reader wants them. Recording
/// never slows the NIC: a capture whose storage or reader falls behind leaves frames out and counts them.
/// </summary>
/// <remarks>
/// Files are kept after a capture stops, and after the server stops (they are the user's data),
/// until deleted through <see cref="Delete"/>. Each rotates at <see cref="MaxFileBytes"/> keeping one
/// older file, so a capture left running cannot fill the disk; a download holds the newest part.
/// </remarks>
public sealed class CaptureSessions : IDisposable
{
    /// <summary>Captures (file and live) running at once; more are refused.</summary>
    public const int MaxRunning = 16;

    /// <summary>
    /// File captures kept, running or stopped; a new one is refused until one is deleted, so a
    /// client that starts and stops captures in a loop cannot fill the disk with up to
    /// 2 x <see cref="MaxFileBytes"/> each.
    /// </summary>
    public const int MaxKept = 64;

    /// <summary>Size at which a capture file rotates (the previous part is kept as NAME.1.pcapng).</summary>
    public const long MaxFileBytes = 64L << 20;

    private readonly ServerHost _host;
    private readonly string _directory;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private int _live;
    private int _next;
    private bool _disposed;

    /// <summary>Captures of <paramref name="host"/>'s NICs, written into <paramref name="directory"/> (created 0700; refused if another user could change it).</summary>
    public CaptureSessions(ServerHost host, string directory, ILoggerFactory loggers)
    {
        _host = host;
        _directory = directory;
        _log = loggers.CreateLogger("Polynic.Captures");
    }

    /// <summary>Every capture, running or stopped, oldest first.</summary>
    public IReadOnlyList<CaptureInfo> List()
    {
        lock (_gate) return _sessions.Values.OrderBy(s => s.Started).Select(s => s.Info()).ToList();
    }

    /// <summary>One capture.</summary>
    /// <exception cref="KeyNotFoundException">No such capture.</exception>
    public CaptureInfo Get(string id)
    {
        lock (_gate) return Find(id).Info();
    }

    /// <summary>Starts recording NIC <paramref name="nic"/> into a new file.</summary>
    /// <exception cref="KeyNotFoundException">No such NIC.</exception>
    /// <exception cref="InvalidOperationException">The NIC has no port, <see cref="MaxRunning"/> captures run already, or <see cref="MaxKept"/> are kept.</exception>
    /// <exception cref="IOException">The capture directory is unsafe or the file cannot be created.</exception>
    public CaptureInfo Start(string nic)
    {
        var point = PointOf(nic);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CheckRoom();
            if (_sessions.Count >= MaxKept)
                throw new InvalidOperationException($"{MaxKept} captures are kept already; delete one first");
            var started = DateTimeOffset.UtcNow;
            string id = $"{nic}-{started:yyyyMMdd'T'HHmmss}-{++_next}";
            PcapngWriter writer;
            try
            {
                writer = new PcapngWriter(Path.Combine(_directory, id + ".pcapng"), new PcapngWriterOptions
                {
                    MaxFileBytes = MaxFileBytes,
                    KeepFiles = 1,
                    Log = _log,
                });
            }
            catch (Native.UnsafePathException e)
            {
                throw new IOException($"capture directory {_directory}: {e.Message}", e);
            }
            var counters = point.Attach(writer, nic);
            var session = new Session(id, nic, started, writer, point, counters);
            _sessions.Add(id, session);
            _log.LogInformation("Capture {Id} of NIC {Nic} started into {File}", id, nic, writer.Path);
            _host.Events.Publish(new ServerEvent(ServerEventTypes.CaptureStarted, started, Nic: nic, Capture: id));
            return session.Info();
        }
    }

    /// <summary>Stops a capture; its file stays, complete.</summary>
    /// <exception cref="KeyNotFoundException">No such capture.</exception>
    public CaptureInfo Stop(string id)
    {
        Session session;
        lock (_gate) session = Find(id);
        if (session.Stop()) Stopped(session);
        return session.Info();
    }

    /// <summary>Stops a capture if it runs and deletes its files.</summary>
    /// <exception cref="KeyNotFoundException">No such capture.</exception>
    public void Delete(string id)
    {
        Session session;
        lock (_gate)
        {
            session = Find(id);
            _sessions.Remove(id);
        }
        if (session.Stop()) Stopped(session);
        foreach (var file in new[] { session.File }.Concat(session.Writer.RotatedFiles)) File.Delete(file);
    }

    /// <summary>
    /// Opens the capture's current file for reading, with everything recorded so far written out
    /// (a running capture goes on behind it).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such capture.</exception>
    /// <exception cref="IOException">The capture failed or its file is gone.</exception>
    public (FileStream Content, string FileName) OpenFile(string id)
    {
        Session session;
        lock (_gate) session = Find(id);
        session.FlushIfRunning();
        return (new FileStream(session.File, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), Path.GetFileName(session.File));
    }

    /// <summary>
    /// Records NIC <paramref name="nic"/> into <paramref name="sink"/> as one pcapng stream until
    /// the returned handle is disposed. The sink is written from the capture's own thread; a sink
    /// that blocks holds only that thread (frames are then left out of this capture).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such NIC.</exception>
    /// <exception cref="InvalidOperationException">The NIC has no port, or <see cref="MaxRunning"/> captures run already.</exception>
    public IDisposable StartLive(string nic, Stream sink)
    {
        var point = PointOf(nic);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CheckRoom();
            _live++;
        }
        var writer = new PcapngWriter(sink, new PcapngWriterOptions { FlushInterval = TimeSpan.FromMilliseconds(200), Log = _log }, leaveOpen: true);
        point.Attach(writer, nic);
        string id = $"{nic}-live-{Interlocked.Increment(ref _next)}";
        _host.Events.Publish(new ServerEvent(ServerEventTypes.CaptureStarted, DateTimeOffset.UtcNow, Nic: nic, Capture: id, Detail: "live"));
        return new LiveHandle(() =>
        {
            point.Detach(writer);
            writer.Dispose();
            lock (_gate) _live--;
            _host.Events.Publish(new ServerEvent(ServerEventTypes.CaptureStopped, DateTimeOffset.UtcNow, Nic: nic, Capture: id, Detail: "live"));
        });
    }

    /// <summary>Stops every running capture (their files stay).</summary>
    public void Dispose()
    {
        Session[] sessions;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            sessions = _sessions.Values.ToArray();
        }
        foreach (var s in sessions) if (s.Stop()) Stopped(s);
    }

    private void Stopped(Session session)
    {
        var info = session.Info();
        _log.LogInformation("Capture {Id} of NIC {Nic} stopped: {Packets} frames, {LeftOut} left out, {File}", info.Id, info.Nic, info.Packets, info.LeftOut, info.File);
        _host.Events.Publish(new ServerEvent(ServerEventTypes.CaptureStopped, DateTimeOffset.UtcNow, Nic: info.Nic, Capture: info.Id));
    }

    private CapturePoint PointOf(string nic)
    {
        var function = _host.Functions.FirstOrDefault(f => f.Name == nic) ?? throw new KeyNotFoundException($"no NIC named '{nic}' is served");
        return function.Captures ?? throw new InvalidOperationException($"NIC '{nic}' has no port: there is no traffic to capture");
    }

    private void CheckRoom()
    {
        int running = _live + _sessions.Values.Count(s => s.Running);
        if (running >= MaxRunning) throw new InvalidOperationException($"{MaxRunning} captures are running already; stop one first");
    }

    private Session Find(string id) =>
        _sessions.TryGetValue(id, out var s) ? s : throw new KeyNotFoundException($"no capture named '{id}'");

    private sealed class Session(string id, string nic, DateTimeOffset started, PcapngWriter writer, CapturePoint point, CaptureCounters counters)
    {
        private readonly Lock _gate = new();
        private DateTimeOffset? _stopped;

        public string Id => id;
        public DateTimeOffset Started => started;
        public PcapngWriter Writer => writer;
        public string File { get; } = writer.Path;
        public bool Running { get { lock (_gate) return _stopped is null; } }

        /// <summary>True if this call stopped it.</summary>
        public bool Stop()
        {
            lock (_gate)
            {
                if (_stopped is not null) return false;
                point.Detach(writer);
                writer.Dispose();
                _stopped = DateTimeOffset.UtcNow;
                return true;
            }
        }

        public void FlushIfRunning()
        {
            lock (_gate)
            {
                if (_stopped is null) writer.Flush();
                else if (writer.Fault is { } fault) throw new IOException($"capture {id} failed: {fault.Message}", fault);
            }
        }

        public CaptureInfo Info()
        {
            lock (_gate)
            {
                long bytes = System.IO.File.Exists(File) ? new FileInfo(File).Length : 0;
                return new CaptureInfo(id, nic, _stopped is null ? "running" : "stopped", started, _stopped,
                    counters.FramesQueued, counters.FramesDropped, bytes, File);
            }
        }
    }

    private sealed class LiveHandle(Action close) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0) close();
        }
    }
}
