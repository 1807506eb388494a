using System.Text;

namespace Polynic.Ports.Capture;

/// <summary>
/// Writes frames of one or more interfaces into a pcapng file (draft-ietf-opsawg-pcapng) that
/// Wireshark and tshark read: one Section Header Block, one Interface Description Block per
/// <see cref="AddInterface"/> (Ethernet, with if_name and if_tsresol), one Enhanced Packet Block
/// per frame with its direction in epb_flags.
/// </summary>
/// <remarks>
/// Thread-safe: several ports (each on its own threads) write into one writer. Blocks are
/// encoded into a buffer allocated once and written out when it fills, every
/// <see cref="PcapngWriterOptions.FlushInterval"/>, on <see cref="Flush"/> and on dispose;
/// <see cref="WritePacket"/> allocates nothing. With <see cref="PcapngWriterOptions.MaxFileBytes"/>
/// the file rotates (x.pcapng → x.1.pcapng → … → x.N.pcapng), each file complete on its own.
/// A file-system error never reaches a sender: the writer stops, keeps the error in
/// <see cref="Fault"/> and counts further packets in <see cref="PacketsDropped"/>.
/// </remarks>
public sealed class PcapngWriter : IDisposable
{
    /// <summary>Largest snap length (and the default): Wireshark's limit for Ethernet.</summary>
    public const int MaxSnapLength = PcapngBlocks.MaxSnapLength;

    /// <summary>Longest interface name or application string, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 1024;

    private const int MinBufferSize = 4096;
    private const long TicksPerMicrosecond = 10;
    private const long NanosecondsPerTick = 100;

    private readonly Lock _gate = new();
    private readonly PcapngWriterOptions _options;
    private readonly byte[] _buffer;
    private readonly byte[] _application;
    private readonly List<InterfaceDescription> _interfaces = [];
    private readonly ITimer? _flushTimer;
    private readonly CaptureDestination _destination;
    private int _buffered;
    private int _packetsInFile;
    private long _packetsWritten;
    private long _packetsDropped;
    private long _rotations;
    private Exception? _fault;
    private bool _disposed;

    private readonly record struct InterfaceDescription(byte[] Name, int SnapLength);

    /// <summary>
    /// Creates (or truncates) the file at <paramref name="path"/> and writes its section header.
    /// Rotated files of an earlier run stay until rotation replaces them.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public PcapngWriter(string path, PcapngWriterOptions? options = null)
        : this(options, validated => new CaptureFileSet(NonEmpty(path), validated.KeepFiles))
    {
    }

    /// <summary>
    /// Writes the capture into <paramref name="stream"/> (a pipe to a reader, a test's stream),
    /// section header first. A stream does not rotate: <see cref="PcapngWriterOptions.MaxFileBytes"/> must be 0.
    /// </summary>
    internal PcapngWriter(Stream stream, PcapngWriterOptions? options = null, bool leaveOpen = false)
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
        _application = Utf8(options.Application ?? "", nameof(options.Application));
        _buffer = new byte[options.BufferSize];
        _destination = open(options);
        Append(PcapngBlocks.WriteSectionHeader(Reserve(PcapngBlocks.SectionHeaderLength(_application.Length)), _application));

        var interval = options.FlushInterval;
        if (interval > TimeSpan.Zero && interval != Timeout.InfiniteTimeSpan)
            _flushTimer = options.TimeProvider.CreateTimer(static state => ((PcapngWriter)state!).FlushQuietly(), this, interval, interval);
    }

    /// <summary>Full path of the current file (for a stream: its type, in parentheses).</summary>
    public string Path => _destination.Path;

    /// <summary>Paths of the rotated files, newest first ("x.1.pcapng" … "x.N.pcapng"); they exist once rotation reached them.</summary>
    public IReadOnlyList<string> RotatedFiles => _destination.RotatedFiles;

    /// <summary>Packets written (buffered or on disk), across all files.</summary>
    public long PacketsWritten => Volatile.Read(ref _packetsWritten);

    /// <summary>Packets refused because the writer was disposed or had failed.</summary>
    public long PacketsDropped => Volatile.Read(ref _packetsDropped);

    /// <summary>How many times the file rotated.</summary>
    public long Rotations => Volatile.Read(ref _rotations);

    /// <summary>The file-system error that stopped the writer, or null while it works.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

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
        var description = new InterfaceDescription(Utf8(name, nameof(name)), snapLength);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _interfaces.Add(description);
            if (_fault is null)
            {
                try
                {
                    WriteInterface(description);
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    _fault = exception;
                }
            }
            return _interfaces.Count - 1;
        }
    }

    /// <summary>
    /// Records one Ethernet frame (destination MAC first, no FCS) on interface
    /// <paramref name="interfaceId"/>, timestamped now. Returns false, and counts the packet as
    /// dropped, if the writer is disposed or failed. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interfaceId"/> was not returned by <see cref="AddInterface"/>.</exception>
    public bool WritePacket(int interfaceId, ReadOnlySpan<byte> frame, CaptureDirection direction)
    {
        lock (_gate)
        {
            // Read under the lock so packets of different threads are in time order in the file.
            long timestamp = _options.TimeProvider.GetUtcNow().UtcTicks;
            if ((uint)interfaceId >= (uint)_interfaces.Count)
                throw new ArgumentOutOfRangeException(nameof(interfaceId), interfaceId, "Not an interface of this writer.");
            if (_disposed || _fault is not null)
            {
                Interlocked.Increment(ref _packetsDropped);
                return false;
            }
            try
            {
                WriteEnhancedPacket(interfaceId, frame, direction, timestamp);
                Interlocked.Increment(ref _packetsWritten);
                return true;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                _fault = exception;
                Interlocked.Increment(ref _packetsDropped);
                return false;
            }
        }
    }

    /// <summary>Writes the buffered blocks to the file.</summary>
    /// <exception cref="IOException">The writer failed, now or earlier (see <see cref="Fault"/>).</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Flush()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_fault is null) TryWriteBuffer();
            if (_fault is { } fault) throw new IOException($"Capture to {Path} failed: {fault.Message}", fault);
        }
    }

    /// <summary>Writes what is buffered and closes the file. A failure is kept in <see cref="Fault"/>, not thrown.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (_fault is null) TryWriteBuffer();
            _destination.Dispose();
        }
        _flushTimer?.Dispose();
    }

    private void FlushQuietly()
    {
        lock (_gate)
        {
            if (!_disposed && _fault is null && _buffered > 0) TryWriteBuffer();
        }
    }

    private void WriteEnhancedPacket(int interfaceId, ReadOnlySpan<byte> frame, CaptureDirection direction, long utcTicks)
    {
        var description = _interfaces[interfaceId];
        int captured = Math.Min(frame.Length, description.SnapLength);
        int blockLength = PcapngBlocks.PacketBlockLength(captured);
        if (_options.MaxFileBytes > 0 && _packetsInFile > 0 && _destination.Length + _buffered + blockLength > _options.MaxFileBytes)
            Rotate();

        var data = frame[..captured];
        uint flags = PcapngBlocks.PacketFlags(direction, frame);
        PcapngBlocks.WritePacketHeader(Reserve(PcapngBlocks.PacketHeaderLength), blockLength, interfaceId,
            Timestamp(utcTicks), captured, frame.Length);
        Append(PcapngBlocks.PacketHeaderLength);
        if (blockLength <= _buffer.Length)
        {
            data.CopyTo(Reserve(captured));
            Append(captured);
        }
        else
        {
            // Larger than the whole buffer: the data goes straight to the file behind the header.
            WriteBuffer();
            WriteFile(data);
        }
        int trailerLength = PcapngBlocks.Pad4(captured) - captured + PcapngBlocks.PacketTrailerLength;
        Append(PcapngBlocks.WritePacketTrailer(Reserve(trailerLength), captured, flags, blockLength));
        _packetsInFile++;
    }

    private ulong Timestamp(long utcTicks)
    {
        long sinceEpoch = Math.Max(0, utcTicks - DateTime.UnixEpoch.Ticks);
        return _options.TimestampResolution == PcapngTimestampResolution.Nanoseconds
            ? (ulong)sinceEpoch * NanosecondsPerTick
            : (ulong)(sinceEpoch / TicksPerMicrosecond);
    }

    private void WriteInterface(InterfaceDescription description)
    {
        int length = PcapngBlocks.InterfaceDescriptionLength(description.Name.Length);
        Append(PcapngBlocks.WriteInterfaceDescription(Reserve(length), description.Name, description.SnapLength,
            _options.TimestampResolution));
    }

    // Interface ids are per section, so a new file repeats the section header and every interface.
    private void Rotate()
    {
        WriteBuffer();
        _destination.StartNewFile();
        _packetsInFile = 0;
        Append(PcapngBlocks.WriteSectionHeader(Reserve(PcapngBlocks.SectionHeaderLength(_application.Length)), _application));
        foreach (var description in _interfaces) WriteInterface(description);
        Interlocked.Increment(ref _rotations);
    }

    /// <summary>Room for <paramref name="length"/> bytes at the end of the buffer, writing the buffer out first if needed.</summary>
    private Span<byte> Reserve(int length)
    {
        if (_buffered + length > _buffer.Length) WriteBuffer();
        return _buffer.AsSpan(_buffered, length);
    }

    private void Append(int length) => _buffered += length;

    private void WriteBuffer()
    {
        if (_buffered == 0) return;
        WriteFile(_buffer.AsSpan(0, _buffered));
        _buffered = 0;
    }

    private void WriteFile(ReadOnlySpan<byte> data) => _destination.Write(data);

    private void TryWriteBuffer()
    {
        try
        {
            WriteBuffer();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            _fault = exception;
        }
    }

    private static PcapngWriterOptions Check(PcapngWriterOptions? options)
    {
        options ??= new PcapngWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, MinBufferSize, nameof(options.BufferSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxFileBytes, nameof(options.MaxFileBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(options.KeepFiles, nameof(options.KeepFiles));
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
