using Microsoft.Extensions.Logging;

namespace Polynic.Ports.Capture;

/// <summary>Settings of a <see cref="PcapngWriter"/>.</summary>
public sealed record PcapngWriterOptions
{
    /// <summary>Bytes buffered before a write to the file; the buffer is allocated once. Default 64 KiB.</summary>
    public int BufferSize { get; init; } = 64 * 1024;

    /// <summary>
    /// How often buffered packets are written out even if the buffer is not full, so a reader
    /// (tshark -r, a tail) sees recent traffic. <see cref="TimeSpan.Zero"/> or
    /// <see cref="Timeout.InfiniteTimeSpan"/>: only when full, on <see cref="PcapngWriter.Flush"/> and on dispose. Default 1 s.
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Size at which the file is rotated: "x.pcapng" becomes "x.1.pcapng", the previous
    /// "x.1.pcapng" becomes "x.2.pcapng" and so on, and a new "x.pcapng" starts with its own
    /// section header and interface descriptions. 0: never rotate. A file always takes at least
    /// one packet, so a packet larger than the limit makes one oversized file rather than a loop.
    /// </summary>
    public long MaxFileBytes { get; init; }

    /// <summary>Rotated files kept besides the current one ("x.1" … "x.N"); older ones are deleted. Default 4.</summary>
    public int KeepFiles { get; init; } = 4;

    /// <summary>Timestamp units of the packets. Default microseconds.</summary>
    public PcapngTimestampResolution TimestampResolution { get; init; } = PcapngTimestampResolution.Microseconds;

    /// <summary>Clock of the packet timestamps and the flush timer. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Written as the section header's shb_userappl option.</summary>
    public string Application { get; init; } = "Polynic";

    /// <summary>
    /// Frames that may wait for the writer thread; when that many wait (the storage is slower than
    /// the traffic), further frames are left out of the capture and counted. Default 8192.
    /// </summary>
    public int QueueFrames { get; init; } = 8192;

    /// <summary>
    /// Bytes of captured frame data that may wait for the writer thread, allocated once; at least
    /// <see cref="PcapngWriter.MaxSnapLength"/>, so every frame fits an empty queue. Default 8 MiB.
    /// </summary>
    public int QueueBytes { get; init; } = 8 << 20;

    /// <summary>Where frames left out of the capture (at most one line per <see cref="DropReportInterval"/>) and a failed file are logged; null for nowhere.</summary>
    public ILogger? Log { get; init; }

    /// <summary>Shortest time between two log lines about frames left out of the capture. Default 10 s.</summary>
    public TimeSpan DropReportInterval { get; init; } = TimeSpan.FromSeconds(10);
}
