using Polynic.Core.Nic;

namespace Polynic.Personalities.Tests.Shared;

/// <summary>
/// The same hand-offs to the NIC core's transmit egress, made from e1000, RTL8139 C+ and virtio-net
/// descriptors, and what each must count: every personality's egress tests assert these values, so
/// the three cannot drift apart again.
/// </summary>
internal static class EgressExpectations
{
    /// <summary>A plain frame's length.</summary>
    public const int PlainLength = 300;

    /// <summary>TCP payload of the checksum-offloaded frame.</summary>
    public const int ChecksumPayload = 500;

    /// <summary>TCP payload of the TSO frame over IPv4: 14 + 20 + 20 bytes of headers.</summary>
    public const int TsoPayload = 4000;

    /// <summary>Its segment size.</summary>
    public const ushort Mss = 1448;

    /// <summary>Segments it yields: 1448 + 1448 + 1104 bytes of payload.</summary>
    public const int TsoSegments = 3;

    /// <summary>The partial checksum a port that completes checksums is handed (TCP over IPv4, no options).</summary>
    public static readonly FrameOffload Partial = new(true, 34, 16, GsoType.None, 0, 0);

    /// <summary>The GSO frame a port that segments is handed.</summary>
    public static readonly FrameOffload Tso = new(true, 34, 16, GsoType.TcpV4, 54, Mss);

    /// <summary>tx_frames, tx_segments, tx_errors, tx_dropped.</summary>
    public static (long Frames, long Segments, long Errors, long Dropped) Of(NicCounters c) => (c.TxFrames, c.TxSegments, c.TxErrors, c.TxDropped);

    /// <summary>A plain frame, and a checksum-offloaded one whoever completes it: one frame.</summary>
    public static readonly (long, long, long, long) OneFrame = (1, 0, 0, 0);

    /// <summary>The TSO frame: the port takes it whole (one frame) or the core cuts it; its segments count either way.</summary>
    public static (long, long, long, long) TsoCounts(bool portSegments) => (portSegments ? 1 : TsoSegments, TsoSegments, 0, 0);

    /// <summary>The TSO frame in loopback, with a port that would take it whole: cut, looped back, counted as transmitted.</summary>
    public static readonly (long, long, long, long) LoopedBackTso = (TsoSegments, TsoSegments, 0, 0);
}
