namespace Polynic.Ports.Capture;

/// <summary>An Ethernet interface declared in a capture: its if_name (UTF-8) and snap length.</summary>
internal readonly record struct CaptureInterface(byte[] Name, int SnapLength);

/// <summary>
/// Turns queued frames into pcapng blocks in a buffer allocated once and writes the buffer to
/// the destination when it fills or when told; rotates the file when it would grow past
/// <see cref="PcapngWriterOptions.MaxFileBytes"/>. Used only by the writer thread, so it needs no lock.
/// </summary>
internal sealed class PcapngEncoder : IDisposable
{
    private const long TicksPerMicrosecond = 10;
    private const long NanosecondsPerTick = 100;

    private readonly PcapngWriterOptions _options;
    private readonly CaptureDestination _destination;
    private readonly byte[] _buffer;
    private readonly byte[] _application;
    private int _buffered;
    private int _interfacesWritten;
    private int _packetsInFile;

    /// <summary>Starts the section: its header goes into the buffer.</summary>
    public PcapngEncoder(CaptureDestination destination, PcapngWriterOptions options, byte[] application)
    {
        _destination = destination;
        _options = options;
        _application = application;
        _buffer = new byte[options.BufferSize];
        WriteSectionHeader();
    }

    /// <summary>Bytes encoded and not yet handed to the destination.</summary>
    public int Buffered => _buffered;

    /// <summary>How many times the file rotated.</summary>
    public long Rotations { get; private set; }

    /// <summary>Declares the interfaces of <paramref name="interfaces"/> not declared yet, in order.</summary>
    public void DeclareInterfaces(ReadOnlySpan<CaptureInterface> interfaces)
    {
        for (; _interfacesWritten < interfaces.Length; _interfacesWritten++) WriteInterface(interfaces[_interfacesWritten]);
    }

    /// <summary>
    /// One Enhanced Packet Block; rotates first if the block would take the file past its limit
    /// (re-declaring <paramref name="interfaces"/>, since interface ids are per section).
    /// </summary>
    public void WritePacket(in CaptureQueue.Entry entry, ReadOnlySpan<byte> data, ReadOnlySpan<CaptureInterface> interfaces)
    {
        int blockLength = PcapngBlocks.PacketBlockLength(data.Length);
        if (_options.MaxFileBytes > 0 && _packetsInFile > 0 && _destination.Length + _buffered + blockLength > _options.MaxFileBytes)
            Rotate(interfaces);

        PcapngBlocks.WritePacketHeader(Reserve(PcapngBlocks.PacketHeaderLength), blockLength, entry.InterfaceId,
            Timestamp(entry.UtcTicks), data.Length, entry.OriginalLength);
        Append(PcapngBlocks.PacketHeaderLength);
        if (blockLength <= _buffer.Length)
        {
            data.CopyTo(Reserve(data.Length));
            Append(data.Length);
        }
        else
        {
            // Larger than the whole buffer: the data goes straight to the file behind the header.
            WriteOut();
            _destination.Write(data);
        }
        int trailerLength = PcapngBlocks.Pad4(data.Length) - data.Length + PcapngBlocks.PacketTrailerLength;
        Append(PcapngBlocks.WritePacketTrailer(Reserve(trailerLength), data.Length, entry.Flags, blockLength));
        _packetsInFile++;
    }

    /// <summary>Hands the buffered blocks to the destination.</summary>
    /// <exception cref="IOException">The destination failed.</exception>
    public void WriteOut()
    {
        if (_buffered == 0) return;
        _destination.Write(_buffer.AsSpan(0, _buffered));
        _buffered = 0;
    }

    /// <summary>Closes the destination; what is still buffered is not written (call <see cref="WriteOut"/> first).</summary>
    public void Dispose() => _destination.Dispose();

    private ulong Timestamp(long utcTicks)
    {
        long sinceEpoch = Math.Max(0, utcTicks - DateTime.UnixEpoch.Ticks);
        return _options.TimestampResolution == PcapngTimestampResolution.Nanoseconds
            ? (ulong)sinceEpoch * NanosecondsPerTick
            : (ulong)(sinceEpoch / TicksPerMicrosecond);
    }

    private void WriteSectionHeader() =>
        Append(PcapngBlocks.WriteSectionHeader(Reserve(PcapngBlocks.SectionHeaderLength(_application.Length)), _application));

    private void WriteInterface(CaptureInterface description)
    {
        int length = PcapngBlocks.InterfaceDescriptionLength(description.Name.Length);
        Append(PcapngBlocks.WriteInterfaceDescription(Reserve(length), description.Name, description.SnapLength,
            _options.TimestampResolution));
    }

    // A new file repeats the section header and every interface declared so far.
    private void Rotate(ReadOnlySpan<CaptureInterface> interfaces)
    {
        WriteOut();
        _destination.StartNewFile();
        _packetsInFile = 0;
        _interfacesWritten = 0;
        WriteSectionHeader();
        DeclareInterfaces(interfaces);
        Rotations++;
    }

    // Called after Reserve returned and was written: Reserve may have emptied the buffer, so
    // `_buffered += Write(Reserve(n))` would add to the length read before it did.
    private void Append(int length) => _buffered += length;

    /// <summary>Room for <paramref name="length"/> bytes at the end of the buffer, writing the buffer out first if needed.</summary>
    private Span<byte> Reserve(int length)
    {
        if (_buffered + length > _buffer.Length) WriteOut();
        return _buffer.AsSpan(_buffered, length);
    }
}
