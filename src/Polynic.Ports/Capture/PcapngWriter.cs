using System.Text;

namespace Polynic.Ports.Capture;

/// <summary>
/// Writes frames of one or more interfaces into a pcapng file (draft-ietf-opsawg-pcapng) that
/// Wireshark and tshark read: one Section Header Block, one Interface Description Block per
/// <see cref="AddInterface"/> (Ethernet, with if_name and if_tsresol), one Enhanced Packet Block
/// per frame with its direction in epb_flags.
/// </summary>
/// <remarks>
/// <see cref="WritePacket"/> is on the data path, often under a NIC's device lock, so it never
/// waits for storage: it copies the frame (cut to the snap length) into a bounded queue allocated
/// once and returns. One thread per writer encodes the queue and does all file I/O; blocks are
/// written out when the buffer fills, every <see cref="PcapngWriterOptions.FlushInterval"/>, on
/// <see cref="Flush"/> and on dispose. When the queue is full (the storage is slower than the
/// traffic) a frame is left out of the capture, counted in <see cref="PacketsQueueFull"/> and
/// logged at most once per <see cref="PcapngWriterOptions.DropReportInterval"/>; the frame itself
/// goes on. With <see cref="PcapngWriterOptions.MaxFileBytes"/> the file rotates
/// (x.pcapng → x.1.pcapng → … → x.N.pcapng), each file complete on its own. A file-system error
/// never reaches a sender: the writer stops, keeps the error in <see cref="Fault"/> and counts
/// further packets in <see cref="PacketsDropped"/>. Thread-safe.
/// </remarks>
public sealed class PcapngWriter : IDisposable
{
    /// <summary>Largest snap length (and the default): Wireshark's limit for Ethernet.</summary>
    public const int MaxSnapLength = PcapngBlocks.MaxSnapLength;

    /// <summary>Longest interface name or application string, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 1024;

    private const int MinBufferSize = 4096;
    // Entries the writer thread takes from the queue at once; frees them together.
    private const int BatchSize = 64;

    private readonly PcapngWriterOptions _options;
    private readonly CaptureQueue _queue;
    private readonly PcapngEncoder _encoder;
    private readonly CaptureDestination _destination;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly Lock _interfacesGate = new();
    private readonly object _flushGate = new();
    private readonly ITimer? _dropReport;
    private volatile CaptureInterface[] _interfaces = [];
    private long _packetsWritten;
    private long _packetsDropped;
    private long _packetsQueueFull;
    private long _queueFullReported;
    private long _rotations;
    private long _flushRequested;
    private long _flushCompleted;
    private volatile Exception? _fault;
    private volatile bool _stopping;
    private int _disposed;

    /// <summary>
    /// Creates the file at <paramref name="path"/> and starts the writer thread. The directory is
    /// created 0700 if missing and must otherwise be safe from other local users (see
    /// <see cref="Native.PrivateDirectory"/>); files are created 0600, never through a link. A
    /// capture file of an earlier run is replaced; its rotated files stay until rotation replaces them.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="Native.UnsafePathException">The directory, or something already at the file's name, could be changed by another user or is a link.</exception>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public PcapngWriter(string path, PcapngWriterOptions? options = null)
        : this(options, validated => new CaptureFileSet(NonEmpty(path), validated.KeepFiles))
    {
    }

    /// <summary>
    /// Writes the capture into <paramref name="stream"/> (a pipe to a reader, a test's stream),
    /// section header first. A stream does not rotate: <see cref="PcapngWriterOptions.MaxFileBytes"/> must be 0.
    /// </summary>
    public PcapngWriter(Stream stream, PcapngWriterOptions? options = null, bool leaveOpen = false)
        : this(options, validated =>
        {
            ArgumentNullException.ThrowIfNull(stream);
            if (validated.MaxFileBytes != 0) throw new ArgumentException("A stream cannot rotate; MaxFileBytes must be 0.", nameof(options));
            return new CaptureStream(stream, leaveOpen);
        })
    {
    }

    private PcapngWriter(PcapngWriterOptions? options, Func<PcapngWriterOptions, CaptureDestination> open)
    {
        _options = options = Check(options);
        var application = Utf8(options.Application ?? "", nameof(options.Application));
        _queue = new CaptureQueue(options.QueueFrames, options.QueueBytes);
        _destination = open(options);
        _encoder = new PcapngEncoder(_destination, options, application);
        _thread = new Thread(Run) { IsBackground = true, Name = "pcapng writer" };
        _thread.Start();
        var interval = options.DropReportInterval;
        if (options.Log is not null && interval > TimeSpan.Zero && interval != Timeout.InfiniteTimeSpan)
            _dropReport = options.TimeProvider.CreateTimer(static state => ((PcapngWriter)state!).ReportQueueFull(), this, interval, interval);
    }

    /// <summary>Full path of the current file (for a stream: its type, in parentheses).</summary>
    public string Path => _destination.Path;

    /// <summary>Paths of the rotated files, newest first ("x.1.pcapng" … "x.N.pcapng"); they exist once rotation reached them.</summary>
    public IReadOnlyList<string> RotatedFiles => _destination.RotatedFiles;

    /// <summary>Packets the writer thread encoded (buffered or on disk), across all files.</summary>
    public long PacketsWritten => Volatile.Read(ref _packetsWritten);

    /// <summary>Packets left out of the capture: the queue was full, or the writer had failed or was disposed.</summary>
    public long PacketsDropped => Volatile.Read(ref _packetsDropped);

    /// <summary>Of <see cref="PacketsDropped"/>, those left out because the queue was full (the storage was slower than the traffic).</summary>
    public long PacketsQueueFull => Volatile.Read(ref _packetsQueueFull);

    /// <summary>How many times the file rotated.</summary>
    public long Rotations => Volatile.Read(ref _rotations);

    /// <summary>The file-system error that stopped the writer, or null while it works.</summary>
    public Exception? Fault => _fault;

    /// <summary>Whether the writer thread runs (until dispose).</summary>
    internal bool IsWriting => _thread.IsAlive;

    /// <summary>
    /// Declares an Ethernet interface and returns its id for <see cref="WritePacket"/>. Frames
    /// longer than <paramref name="snapLength"/> are recorded cut to it, with their original length.
    /// </summary>
    /// <exception cref="ArgumentException">The name is longer than <see cref="MaxNameBytes"/> or the snap length is outside 1..<see cref="MaxSnapLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public int AddInterface(string name, int snapLength = MaxSnapLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(snapLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(snapLength, MaxSnapLength);
        var description = new CaptureInterface(Utf8(name, nameof(name)), snapLength);
        lock (_interfacesGate)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            // Copy on write: the data path reads the array without a lock. The writer thread
            // declares an interface in the file before the first packet that names it.
            _interfaces = [.. _interfaces, description];
            return _interfaces.Length - 1;
        }
    }

    /// <summary>
    /// Queues one Ethernet frame (destination MAC first, no FCS) of interface
    /// <paramref name="interfaceId"/>, timestamped now, and returns without waiting for storage.
    /// Returns false, and counts the packet as dropped, if the queue is full or the writer is
    /// disposed or failed. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interfaceId"/> was not returned by <see cref="AddInterface"/>.</exception>
    public bool WritePacket(int interfaceId, ReadOnlySpan<byte> frame, CaptureDirection direction)
    {
        var interfaces = _interfaces;
        if ((uint)interfaceId >= (uint)interfaces.Length)
            throw new ArgumentOutOfRangeException(nameof(interfaceId), interfaceId, "Not an interface of this writer.");
        int captured = Math.Min(frame.Length, interfaces[interfaceId].SnapLength);
        uint flags = PcapngBlocks.PacketFlags(direction, frame);
        switch (_queue.TryAdd(frame[..captured], frame.Length, interfaceId, flags, _options.TimeProvider))
        {
            case CaptureQueue.Outcome.Queued:
                if (!_wake.IsSet) _wake.Set();
                return true;
            case CaptureQueue.Outcome.Full:
                Interlocked.Increment(ref _packetsQueueFull);
                Interlocked.Increment(ref _packetsDropped);
                return false;
            default:
                Interlocked.Increment(ref _packetsDropped);
                return false;
        }
    }

    /// <summary>Waits until every packet queued before the call is written to the file.</summary>
    /// <exception cref="IOException">The writer failed, now or earlier (see <see cref="Fault"/>).</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        long ticket = Interlocked.Increment(ref _flushRequested);
        _wake.Set();
        lock (_flushGate)
        {
            while (Volatile.Read(ref _flushCompleted) < ticket) Monitor.Wait(_flushGate);
        }
        if (_fault is { } fault) throw new IOException($"Capture to {Path} failed: {fault.Message}", fault);
    }

    /// <summary>
    /// Writes everything queued, closes the file and ends the writer thread (waiting for the
    /// storage if it is slow). A failure is kept in <see cref="Fault"/>, not thrown.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _wake.Set();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _dropReport?.Dispose();
        ReportQueueFull();
    }

    private void Run()
    {
        var batch = new CaptureQueue.Entry[BatchSize];
        long oldestBuffered = _options.TimeProvider.GetTimestamp();
        while (true)
        {
            _wake.Reset();
            bool stopping = _stopping;
            long ticket = Volatile.Read(ref _flushRequested);
            // Closing before the last drain makes it final: later frames are refused and counted.
            if (stopping) _queue.Close();
            bool hadBuffered = _encoder.Buffered > 0;
            bool drained = Drain(batch);
            if (!hadBuffered && _encoder.Buffered > 0) oldestBuffered = _options.TimeProvider.GetTimestamp();
            TimeSpan untilDue = _encoder.Buffered > 0 && FlushInterval is { } interval
                ? interval - _options.TimeProvider.GetElapsedTime(oldestBuffered)
                : Timeout.InfiniteTimeSpan;
            if (stopping || ticket != Volatile.Read(ref _flushCompleted) || (untilDue != Timeout.InfiniteTimeSpan && untilDue <= TimeSpan.Zero))
            {
                WriteOut();
                untilDue = Timeout.InfiniteTimeSpan;
                CompleteFlush(ticket);
            }
            if (stopping)
            {
                Close();
                CompleteFlush(long.MaxValue);
                return;
            }
            if (drained) continue;
            _wake.Wait(untilDue == Timeout.InfiniteTimeSpan ? Timeout.Infinite : (int)Math.Ceiling(untilDue.TotalMilliseconds));
        }
    }

    private TimeSpan? FlushInterval =>
        _options.FlushInterval > TimeSpan.Zero && _options.FlushInterval != Timeout.InfiniteTimeSpan ? _options.FlushInterval : null;

    /// <summary>Encodes everything queued (or, once failed, discards it as dropped); whether there was anything.</summary>
    private bool Drain(CaptureQueue.Entry[] batch)
    {
        bool any = false;
        int n;
        do
        {
            n = _queue.Peek(batch);
            // Read after the peek: a peeked frame names an interface added before the frame was
            // queued (under the queue's lock, which the peek took too), so this snapshot covers the
            // batch, and each interface's IDB precedes its first packet.
            var interfaces = _interfaces;
            DeclareInterfaces(interfaces);
            for (int i = 0; i < n; i++)
            {
                if (Encode(batch[i], interfaces)) Interlocked.Increment(ref _packetsWritten);
                else Interlocked.Increment(ref _packetsDropped);
            }
            if (n > 0)
            {
                _queue.Release(n);
                any = true;
            }
        }
        while (n > 0);
        Volatile.Write(ref _rotations, _encoder.Rotations);
        return any;
    }

    // The four steps below catch every exception, not only I/O ones: one escaping the writer
    // thread would end the whole process, and the capture must never cost the server.

    private bool Encode(in CaptureQueue.Entry entry, CaptureInterface[] interfaces)
    {
        if (_fault is not null) return false;
        try
        {
            _encoder.WritePacket(entry, _queue.Bytes(entry), interfaces);
            return true;
        }
        catch (Exception exception)
        {
            Fail(exception);
            return false;
        }
    }

    private void DeclareInterfaces(CaptureInterface[] interfaces)
    {
        if (_fault is not null) return;
        try
        {
            _encoder.DeclareInterfaces(interfaces);
        }
        catch (Exception exception)
        {
            Fail(exception);
        }
    }

    private void WriteOut()
    {
        if (_fault is not null) return;
        try
        {
            _encoder.WriteOut();
        }
        catch (Exception exception)
        {
            Fail(exception);
        }
    }

    private void Close()
    {
        try
        {
            _encoder.Dispose();
        }
        catch (Exception exception)
        {
            if (_fault is null) Fail(exception);
        }
    }

    private void Fail(Exception exception)
    {
        _fault = exception;
        // Refuse new frames at once instead of copying them only to discard them.
        _queue.Close();
        if (_options.Log is { } log) CaptureLog.Failed(log, Path, exception.Message);
    }

    private void CompleteFlush(long ticket)
    {
        lock (_flushGate)
        {
            if (ticket > _flushCompleted) Volatile.Write(ref _flushCompleted, ticket);
            Monitor.PulseAll(_flushGate);
        }
    }

    private void ReportQueueFull()
    {
        if (_options.Log is not { } log) return;
        long total = PacketsQueueFull;
        long fresh = total - Interlocked.Exchange(ref _queueFullReported, total);
        if (fresh > 0) CaptureLog.QueueFull(log, Path, fresh, _options.DropReportInterval.TotalSeconds, total);
    }

    private static PcapngWriterOptions Check(PcapngWriterOptions? options)
    {
        options ??= new PcapngWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, MinBufferSize, nameof(options.BufferSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxFileBytes, nameof(options.MaxFileBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(options.KeepFiles, nameof(options.KeepFiles));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.QueueFrames, nameof(options.QueueFrames));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueBytes, MaxSnapLength, nameof(options.QueueBytes));
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options.TimeProvider));
        if (!Enum.IsDefined(options.TimestampResolution))
            throw new ArgumentOutOfRangeException(nameof(options), options.TimestampResolution, "Unknown timestamp resolution.");
        return options;
    }

    private static string NonEmpty(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return path;
    }

    private static byte[] Utf8(string text, string parameter)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length > MaxNameBytes) throw new ArgumentException($"Longer than {MaxNameBytes} UTF-8 bytes.", parameter);
        return bytes;
    }
}
