using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Nic.Offload;
using Polynic.Core.Virtio;

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// Receive queues (virtio 1.2, 5.1.6.3-4): a frame accepted by the filter is written with its
/// virtio_net_hdr into one chain, or with MRG_RXBUF across as many chains as it needs
/// (num_buffers says how many; a 64 KiB GSO frame takes tens of them). With GUEST_CSUM and
/// GUEST_TSO4/6 the header carries the port's offload (NEEDS_CSUM or DATA_VALID, gso_type,
/// gso_size, hdr_len), so the guest gets a whole GSO frame in one go. Frames wait in a FIFO
/// while the chosen queue has no buffers; their offload waits with them, packed in the FIFO tag.
/// </summary>
internal sealed class ReceivePath
{
    /// <summary>Bytes of frames held while the guest has no receive buffers (about 340 full frames, or 7 GSO frames of 64 KiB).</summary>
    public const int FifoBytes = 512 * 1024;

    private readonly VirtioNetDevice _device;
    private readonly FrameFifo _fifo = new(FifoBytes);
    private readonly UsedBuffer[] _used = new UsedBuffer[VirtioNetDevice.QueueSize];
    private readonly byte[] _header = new byte[NetHeader.Length];

    public ReceivePath(VirtioNetDevice device) => _device = device;

    private enum Outcome { Delivered, NoBuffer, Dropped }

    public void Reset()
    {
        _fifo.Clear();
        _fruitlessRetries = 0;
    }

    /// <summary>Retries per refill for buffers the driver added while a frame waited (see <see cref="Refilled"/>).</summary>
    private const int MaxRetries = VirtioNetDevice.QueueSize;

    /// <summary>
    /// The queue worker looks at the ring again for frames that found too few buffers every 200 µs
    /// for the first 16 looks (3.2 ms), then backs off, doubling up to 20 ms.
    /// </summary>
    private const int FirstRetryMicroseconds = 200, PromptRetries = 16, MaxRetryMicroseconds = 20_000;

    /// <summary>Doublings after the prompt looks: 200 µs × 2^7 passes 20 ms, so the count stops there.</summary>
    private const int MaxDoublings = 7;

    /// <summary>Looks since a waiting frame was last delivered (capped at <see cref="PromptRetries"/> + <see cref="MaxDoublings"/>).</summary>
    private int _fruitlessRetries;

    /// <summary>The wait before the worker's next look, from <see cref="_fruitlessRetries"/>.</summary>
    private int RetryMicroseconds => _fruitlessRetries <= PromptRetries ? FirstRetryMicroseconds
        : Math.Min(FirstRetryMicroseconds << (_fruitlessRetries - PromptRetries), MaxRetryMicroseconds);

    /// <summary>Frames waiting for receive buffers.</summary>
    public int Waiting => _fifo.Count;

    /// <summary>
    /// Whether a frame of <paramref name="length"/> bytes would be delivered or held rather than
    /// lost: only a full FIFO loses frames (true while the driver is not running: such frames are
    /// dropped whatever happens, so waiting would not help).
    /// </summary>
    public bool HasRoomFor(int length) =>
        !_device.Transport.DriverOk || _fifo.UsedBytes + length + 64 <= _fifo.Limit;

    public void FromWire(ReadOnlySpan<byte> frame) => FromWire(frame, default);

    /// <summary>A frame with the offload the device passes to the driver (already reduced to what the driver takes).</summary>
    public void FromWire(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var counters = _device.Counters;
        if (!_device.Transport.DriverOk) { Interlocked.Increment(ref counters.RxDisabled); return; }
        var result = _device.Filter.Accept(frame);
        if (!result.IsAccepted()) { counters.CountRejected(result); return; }
        if (frame.Length > TransmitPath.MaxChain - NetHeader.Length) { Interlocked.Increment(ref counters.RxTooLong); return; }
        int pair = SteerToPair(frame);
        // Order is kept: while frames wait, new ones queue behind them.
        if (_fifo.Count == 0 && Deliver(pair, frame, offload) != Outcome.NoBuffer) return;
        if (!_fifo.TryEnqueue(frame, PendingFrame.Pack(pair, offload))) Interlocked.Increment(ref counters.RxNoBuffer);
        // Buffers the driver added after we looked would never be kicked for: deliver now instead
        // of waiting for a notification.
        if (_device.ReceiveQueue(pair).ArmNotificationForMore(_device.Memory)) Refilled(pair);
        else _device.RetryReceiveLater(pair, RetryMicroseconds);
    }

    /// <summary>The driver added receive buffers to pair <paramref name="pair"/>: deliver what waits.</summary>
    public void Refilled(int pair)
    {
        var memory = _device.Memory;
        // Bounded: each pass delivers a frame (at most the FIFO's count) or follows buffers the
        // driver added meanwhile, which a hostile driver could fake forever: those retries are
        // capped (the driver's next notification resumes).
        int retries = 0;
        while (_fifo.TryPeek(out var frame, out ulong tag))
        {
            var offload = PendingFrame.Unpack(tag, out int target);
            if (target >= _device.ActiveQueuePairs) target = 0;
            if (Deliver(target, frame, offload) == Outcome.NoBuffer)
            {
                // Too few buffers for this frame (a GSO frame takes tens of them): ask to be told
                // when the driver adds more, and retry at once only if it did meanwhile. Retrying
                // while merely some buffers are there would spin, holding the device lock, until
                // the driver refills.
                if (_device.ReceiveQueue(target).ArmNotificationForMore(memory) && ++retries <= MaxRetries) continue;
                // And look again shortly on the queue worker, without the lock held meanwhile: a
                // driver that refills only after taking frames may never notify for these buffers.
                // A guest under load refills within a few looks; after that each fruitless look
                // waits twice as long (up to 20 ms), so a guest that stopped refilling costs a few
                // dozen wake-ups a second, not thousands.
                _device.RetryReceiveLater(target, RetryMicroseconds);
                _fruitlessRetries = Math.Min(_fruitlessRetries + 1, PromptRetries + MaxDoublings);
                return;
            }
            _fifo.TryDequeue();
            _fruitlessRetries = 0;
        }
        _device.ReceiveQueue(pair).ArmNotification(memory);
    }

    /// <summary>A flow hash over the IPv4 addresses and ports, so a TCP flow stays on one queue (5.1.6.5.5 automatic steering).</summary>
    private int SteerToPair(ReadOnlySpan<byte> frame)
    {
        int pairs = _device.ActiveQueuePairs;
        if (pairs <= 1 || frame.Length < 38 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800) return 0;
        uint h = BinaryPrimitives.ReadUInt32BigEndian(frame[26..]) ^ BinaryPrimitives.ReadUInt32BigEndian(frame[30..])
            ^ BinaryPrimitives.ReadUInt32BigEndian(frame[34..]);
        h ^= h >> 16;
        h *= 0x45D9F3B;
        h ^= h >> 16;
        return (int)(h % (uint)pairs);
    }

    private Outcome Deliver(int pair, ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var queue = _device.ReceiveQueue(pair);
        var memory = _device.Memory;
        bool merge = _device.Has(VirtioNetFeatures.MrgRxbuf);
        long total = NetHeader.Length + frame.Length;
        long written = 0;
        int buffers = 0;
        GuestAddress headerAt = default;
        // Bounded: every iteration pops a chain, at most the queue size of them.
        while (written < total)
        {
            // All of the ring's buffers are not enough: the frame can never be delivered (waiting
            // would block every frame behind it), so it is dropped and counted.
            if (buffers == _used.Length || buffers == queue.Size) { queue.Unpop(buffers); return Drop("frame needs more buffers than the queue holds"); }
            var status = queue.TryPop(memory, out var chain);
            if (status == ChainStatus.Empty) { queue.Unpop(buffers); return Outcome.NoBuffer; }
            if (status == ChainStatus.Broken) { queue.Unpop(buffers); return Drop("receive ring index beyond the queue size"); }
            if (status == ChainStatus.Malformed || chain.ReadableCount != 0 || (buffers == 0 && chain.Segments[0].Length < NetHeader.Length))
            {
                // A chain the device cannot write a header into goes back empty (counted), like a malformed one.
                _device.Counters.DescriptorFaults++;
                _device.Faults.Warn(_device.Log, "malformed receive descriptor chain", chain.Head);
                queue.PushUsed(memory, chain.Head, 0);
                continue;
            }
            if (!merge && chain.WritableLength < total)
            {
                // Without MRG_RXBUF one chain must hold the whole frame (5.1.6.3.1).
                queue.PushUsed(memory, chain.Head, 0);
                Interlocked.Increment(ref _device.Counters.RxTooLong);
                return Outcome.Dropped;
            }
            long offset = 0;
            if (buffers == 0)
            {
                headerAt = chain.Segments[0].Address;
                // hdr_len: the parsed headers' length (a frame from the FIFO lost the port's hint;
                // 5.1.6.4.1 asks for no less than the headers anyway). FromDriver checked they parse.
                NetHeader.WriteReceived(_header, 1, offload.GsoType != GsoType.None && offload.HeaderLength == 0
                    && FrameHeaders.TryParse(frame, out var parsed) == OffloadStatus.Ok
                        ? offload with { HeaderLength = (ushort)parsed.HeaderLength } : offload);
                if (chain.Scatter(memory, 0, _header) != NetHeader.Length) return ReturnEmpty(queue, buffers, chain.Head);
                offset = NetHeader.Length;
                written = NetHeader.Length;
            }
            long room = Math.Min(chain.WritableLength - offset, total - written);
            var piece = frame.Slice((int)(written - NetHeader.Length), (int)room);
            if (chain.Scatter(memory, offset, piece) != piece.Length) return ReturnEmpty(queue, buffers, chain.Head);
            written += room;
            _used[buffers++] = new UsedBuffer(chain.Head, (uint)(offset + room));
        }
        if (merge && buffers > 1)
        {
            Span<byte> count = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(count, (ushort)buffers);
            if (!headerAt.TryAdd(10, out var at) || !memory.TryWrite(at, count)) return ReturnEmpty(queue, buffers - 1, _used[buffers - 1].Head);
        }
        // All of the frame's buffers in one used-index update (5.1.6.4.2).
        queue.PushUsed(memory, _used.AsSpan(0, buffers));
        _device.Counters.CountDelivered(frame);
        if (offload.GsoType != GsoType.None) Interlocked.Increment(ref _device.Counters.RxGsoFrames);
        _device.Transport.NotifyUsed(queue);
        return Outcome.Delivered;
    }

    /// <summary>
    /// A buffer outside guest RAM: every chain popped for this frame goes back used and empty, so
    /// the ring moves on instead of offering the same bad buffer for every frame.
    /// </summary>
    private Outcome ReturnEmpty(SplitVirtqueue queue, int buffers, ushort current)
    {
        var memory = _device.Memory;
        for (int i = 0; i < buffers; i++) _used[i] = _used[i] with { Written = 0 };
        _used[buffers] = new UsedBuffer(current, 0);
        queue.PushUsed(memory, _used.AsSpan(0, buffers + 1));
        _device.Transport.NotifyUsed(queue);
        return DmaFault();
    }

    private Outcome DmaFault()
    {
        Interlocked.Increment(ref _device.Counters.DmaFaults);
        _device.Faults.Warn(_device.Log, "receive buffer outside guest RAM", 0);
        return Outcome.Dropped;
    }

    private Outcome Drop(string why)
    {
        Interlocked.Increment(ref _device.Counters.DescriptorFaults);
        _device.Faults.Warn(_device.Log, why, 0);
        return Outcome.Dropped;
    }

    /// <summary>
    /// A waiting frame's queue pair and offload in the FIFO's 64-bit tag: pair (4 bits), NEEDS_CSUM,
    /// DATA_VALID, gso_type (2 bits), gso_size, csum_start, csum_offset (16 bits each). hdr_len is not
    /// kept; <see cref="Unpack"/> gives the parsed header length, which the spec prefers anyway.
    /// </summary>
    private static class PendingFrame
    {
        public static ulong Pack(int pair, in FrameOffload offload)
        {
            ulong gso = offload.GsoType switch { GsoType.TcpV4 => 1, GsoType.TcpV6 => 2, _ => 0 };
            return (ulong)(uint)(pair & 0xF) | (offload.NeedsChecksum ? 1UL << 4 : 0) | (offload.DataValid ? 1UL << 5 : 0) | gso << 6
                | (ulong)offload.SegmentSize << 8 | (ulong)offload.ChecksumStart << 24 | (ulong)offload.ChecksumOffset << 40;
        }

        public static FrameOffload Unpack(ulong tag, out int pair)
        {
            pair = (int)(tag & 0xF);
            var gso = ((tag >> 6) & 3) switch { 1 => GsoType.TcpV4, 2 => GsoType.TcpV6, _ => GsoType.None };
            return new FrameOffload((tag & (1UL << 4)) != 0, (ushort)(tag >> 24), (ushort)(tag >> 40), gso, 0, (ushort)(tag >> 8))
            {
                DataValid = (tag & (1UL << 5)) != 0,
            };
        }
    }
}
