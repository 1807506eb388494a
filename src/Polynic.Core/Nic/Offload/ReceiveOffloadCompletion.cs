namespace Polynic.Core.Nic.Offload;

/// <summary>
/// Finishes, in software, the work a received frame's <see cref="FrameOffload"/> leaves undone, for
/// a receiver that takes complete frames only: a GSO frame is cut into MTU-sized segments with full
/// checksums (<see cref="TcpSegmenter"/>), a partial checksum is completed on a copy
/// (<see cref="ChecksumOffload"/>). Nothing is allocated per frame: the caller lends the buffer.
/// </summary>
/// <remarks>
/// The offload description comes from outside (a tap's virtio-net header, which the kernel fills
/// from an skb that a peer may have built): every refusal is returned as an <see cref="OffloadStatus"/>
/// for the caller to count, never thrown; the work is bounded by the segmenter's segment cap.
/// </remarks>
public static class ReceiveOffloadCompletion
{
    /// <summary>
    /// Largest received frame with an offload: a 64 KiB IP datagram (the 16-bit length fields'
    /// limit) behind an Ethernet header and two VLAN tags, rounded up.
    /// </summary>
    public const int MaxFrameLength = 65536 + 64;

    [ThreadStatic] private static byte[]? t_scratch;

    /// <summary>
    /// The default of <see cref="IPortReceiver.Receive(ReadOnlySpan{byte}, in FrameOffload)"/>:
    /// completes the frame with a buffer kept per thread (allocated on the thread's first offloaded
    /// frame) and hands each resulting frame to <paramref name="receiver"/>. A frame that cannot be
    /// completed is dropped; the status says why.
    /// </summary>
    public static OffloadStatus Deliver(IPortReceiver receiver, ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        var sink = new ReceiverSink(receiver);
        return Complete(frame, offload, t_scratch ??= new byte[MaxFrameLength], ref sink, out _);
    }

    /// <summary>
    /// Completes <paramref name="frame"/> as <paramref name="offload"/> says, through
    /// <paramref name="scratch"/> (at least the frame's length for a partial checksum, at least one
    /// segment for GSO; <see cref="MaxFrameLength"/> always suffices), handing every complete frame
    /// to <paramref name="sink"/>. A frame with no work left goes to the sink unchanged.
    /// </summary>
    /// <param name="frame">The received frame, left unchanged.</param>
    /// <param name="offload">What is left to do; <see cref="FrameOffload.HeaderLength"/> is only a hint (the headers are parsed).</param>
    /// <param name="scratch">Where segments and checksum copies are built.</param>
    /// <param name="sink">Receives each complete frame; returning false stops.</param>
    /// <param name="frames">Frames handed to the sink.</param>
    /// <returns>
    /// <see cref="OffloadStatus.Ok"/>, <see cref="OffloadStatus.Stopped"/> if the sink stopped, or why the
    /// frame was refused: the segmenter's reasons, <see cref="OffloadStatus.TooShort"/> for a checksum
    /// field outside the frame, <see cref="OffloadStatus.BufferTooSmall"/> for a scratch buffer too small.
    /// </returns>
    public static OffloadStatus Complete<TSink>(ReadOnlySpan<byte> frame, in FrameOffload offload, Span<byte> scratch,
        ref TSink sink, out int frames)
        where TSink : ISegmentSink, allows ref struct =>
        Complete(frame, offload, scratch, ref sink, out frames, out _);

    /// <summary>
    /// <see cref="Complete{TSink}(ReadOnlySpan{byte}, in FrameOffload, Span{byte}, ref TSink, out int)"/>,
    /// also telling how many frames the whole frame yields (<paramref name="count"/>), so a caller
    /// whose sink stopped knows how many it did not take.
    /// </summary>
    internal static OffloadStatus Complete<TSink>(ReadOnlySpan<byte> frame, in FrameOffload offload, Span<byte> scratch,
        ref TSink sink, out int frames, out int count)
        where TSink : ISegmentSink, allows ref struct
    {
        frames = 0;
        count = 1;
        if (offload.GsoType != GsoType.None)
        {
            // The segmenter recomputes every IP and TCP checksum, so a partial checksum is done too.
            var status = TcpSegmenter.TryCreate(frame, offload, out var segmenter);
            if (status != OffloadStatus.Ok) return status;
            count = segmenter.SegmentCount;
            if (scratch.Length < segmenter.MaxSegmentLength) return OffloadStatus.BufferTooSmall;
            // Bounded by the segment count (at most TcpSegmenter.DefaultMaxSegments).
            while (segmenter.TryWriteNext(scratch, out int length))
            {
                frames++;
                if (!sink.OnSegment(scratch[..length])) return OffloadStatus.Stopped;
            }
            return OffloadStatus.Ok;
        }
        if (offload.NeedsChecksum)
        {
            if (frame.Length > scratch.Length) return OffloadStatus.BufferTooSmall;
            var copy = scratch[..frame.Length];
            frame.CopyTo(copy);
            if (!ChecksumOffload.TryComplete(copy, offload)) return OffloadStatus.TooShort;
            frames = 1;
            return sink.OnSegment(copy) ? OffloadStatus.Ok : OffloadStatus.Stopped;
        }
        frames = 1;
        return sink.OnSegment(frame) ? OffloadStatus.Ok : OffloadStatus.Stopped;
    }

    private readonly struct ReceiverSink(IPortReceiver receiver) : ISegmentSink
    {
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            receiver.Receive(segment);
            return true;
        }
    }
}
