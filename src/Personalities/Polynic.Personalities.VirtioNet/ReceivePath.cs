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

    /// <summary>
    /// Chains refused per delivery call (a frame from the port, a refill): a driver that adds bad
    /// chains as fast as the device returns them costs at most this many before the rest waits for
    /// the queue worker's next look, with the device lock released meanwhile.
    /// </summary>
    private const int MaxRefusalsPerCall = VirtioNetDevice.QueueSize;

    private readonly VirtioNetDevice _device;
    private readonly FrameFifo _fifo = new(FifoBytes);
    private readonly UsedBuffer[] _used = new UsedBuffer[VirtioNetDevice.QueueSize];
    private readonly RefusedChain[] _refused = new RefusedChain[VirtioNetDevice.QueueSize];
    // The header, followed by the frame when it is small (written together, see WriteSmallFrame).
    private readonly byte[] _headed = new byte[VirtioNetHeader.Length + SmallFrame];

    /// <summary>Frames up to this length go into a buffer with their header in one DMA write: copying them costs less than a second write.</summary>
    private const int SmallFrame = 256;
    private int _refusalsLeft;

    public ReceivePath(VirtioNetDevice device) => _device = device;

    /// <summary>
    /// What became of a frame: delivered; waiting because the ring has too few buffers (retry as soon
    /// as the driver adds some); waiting because this call refused enough chains (retry on the worker
    /// later); or dropped (counted).
    /// </summary>
    private enum Outcome { Delivered, NoBuffer, Deferred, Dropped }

    /// <summary>Why a receive chain goes back unused.</summary>
    private enum Refusal : byte
    {
        /// <summary>The queue refused its walk (and counted it): loop, bad index, indirect misuse, too long.</summary>
        Malformed,
        /// <summary>Device-readable buffers, or fewer writable bytes than the header (5.1.6.3.1).</summary>
        Shape,
        /// <summary>A buffer outside guest RAM.</summary>
        OutsideRam,
    }

    private readonly record struct RefusedChain(ushort Head, Refusal Why);

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
    /// dropped whatever happens, so waiting would not help). The FIFO's own answer, not a byte
    /// count: a frame needs contiguous room, which a wrapped FIFO may lack with bytes to spare
    /// (a 64 KiB GSO frame was then dropped after the wait said yes).
    /// </summary>
    public bool HasRoomFor(int length) => !_device.Transport.DriverOk || _fifo.HasRoomFor(length);

    public void FromWire(ReadOnlySpan<byte> frame) => FromWire(frame, default);

    /// <summary>A frame with the offload the device passes to the driver (already reduced to what the driver takes).</summary>
    public void FromWire(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var counters = _device.Counters;
        if (!_device.Transport.DriverOk) { Interlocked.Increment(ref counters.RxDisabled); return; }
        var result = _device.Filter.Accept(frame);
        if (!result.IsAccepted()) { counters.CountRejected(result); return; }
        if (frame.Length > TransmitPath.MaxChain - VirtioNetHeader.Length) { Interlocked.Increment(ref counters.RxTooLong); return; }
        int pair = SteerToPair(frame);
        _refusalsLeft = MaxRefusalsPerCall;
        // Order is kept: while frames wait, new ones queue behind them.
        var outcome = _fifo.Count == 0 ? Deliver(pair, frame, offload) : Outcome.NoBuffer;
        if (outcome is Outcome.Delivered or Outcome.Dropped) return;
        if (!_fifo.TryEnqueue(frame, PendingFrame.Pack(pair, offload))) Interlocked.Increment(ref counters.RxNoBuffer);
        // Buffers the driver added after we looked would never be kicked for: deliver now instead
        // of waiting for a notification (unless this call has refused its share of chains).
        if (_device.ReceiveQueue(pair).ArmNotificationForMore(_device.Memory) && outcome == Outcome.NoBuffer) DeliverWaiting(pair);
        else _device.RetryReceiveLater(pair, RetryMicroseconds);
    }

    /// <summary>The driver added receive buffers to pair <paramref name="pair"/>: deliver what waits.</summary>
    public void Refilled(int pair)
    {
        _refusalsLeft = MaxRefusalsPerCall;
        DeliverWaiting(pair);
    }

    private void DeliverWaiting(int pair)
    {
        var memory = _device.Memory;
        // Bounded: each pass delivers or drops a frame (at most the FIFO's count) or follows buffers
        // the driver added meanwhile, which a hostile driver could fake forever: those retries are
        // capped (the driver's next notification resumes), and so are the chains refused per call.
        int retries = 0;
        while (_fifo.TryPeek(out var frame, out ulong tag))
        {
            var offload = PendingFrame.Unpack(tag, out int target);
            if (target >= _device.ActiveQueuePairs) target = 0;
            var outcome = Deliver(target, frame, offload);
            if (outcome is Outcome.NoBuffer or Outcome.Deferred)
            {
                // Too few buffers for this frame (a GSO frame takes tens of them): ask to be told
                // when the driver adds more, and retry at once only if it did meanwhile. Retrying
                // while merely some buffers are there would spin, holding the device lock, until
                // the driver refills.
                if (_device.ReceiveQueue(target).ArmNotificationForMore(memory) && outcome == Outcome.NoBuffer && ++retries <= MaxRetries)
                    continue;
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

    /// <summary>
    /// Writes the frame behind its header into the next chains of pair <paramref name="pair"/>'s
    /// receive queue. A chain the device cannot use is set aside and goes back to the driver empty,
    /// once, ahead of the frame's buffers (which must reach the driver together, 5.1.6.4.1). When the
    /// ring runs out before the frame fits, the frame's chains (and the refused ones among them) go
    /// back to the available ring, to be taken again in the same order next time.
    /// </summary>
    private Outcome Deliver(int pair, ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        var queue = _device.ReceiveQueue(pair);
        var memory = _device.Memory;
        bool merge = _device.Has(VirtioNetFeatures.MrgRxbuf);
        long total = VirtioNetHeader.Length + frame.Length;
        int placed = 0;
        int buffers = 0, refused = 0;
        // Refused chains taken before the frame's first buffer, and the frame's buffers taken
        // before the last refused chain: they decide what can go back to the available ring.
        int leading = 0, buffersBeforeRefusal = 0;
        int examined = Math.Min(queue.Size, _used.Length);
        GuestAddress countLow = default, countHigh = default;
        // Bounded: every iteration takes a chain, at most the queue size of them.
        while (buffers == 0 || placed < frame.Length)
        {
            if (buffers + refused == examined) return RingExhausted(queue, buffers, refused, buffersBeforeRefusal);
            if (_refusalsLeft == 0) return GiveBack(queue, buffers, refused, leading, Outcome.Deferred);
            var status = queue.TryPop(memory, out var chain);
            if (status == ChainStatus.Empty) return GiveBack(queue, buffers, refused, leading, Outcome.NoBuffer);
            // The queue is unusable until reset; nothing taken can go back to it.
            if (status == ChainStatus.Broken) return Drop("receive ring index beyond the queue size");
            var why = status == ChainStatus.Malformed ? Refusal.Malformed
                // 2.7.5.1: the device writes no device-readable buffer; 5.1.6.3.1: every receive
                // buffer holds at least a header (a zero-length chain holds nothing).
                : chain.ReadableCount != 0 || chain.WritableLength < VirtioNetHeader.Length ? Refusal.Shape
                : (Refusal?)null;
            if (why is null && !merge && chain.WritableLength < total)
            {
                // Without MRG_RXBUF one chain must hold the whole frame (5.1.6.3.2).
                ReturnRefused(queue, refused);
                queue.PushUsed(memory, chain.Head, 0);
                _device.Transport.NotifyUsed(queue);
                Interlocked.Increment(ref _device.Counters.RxTooLong);
                return Outcome.Dropped;
            }
            long offset = buffers == 0 ? VirtioNetHeader.Length : 0;
            bool withHeader = false;
            if (why is null && buffers == 0)
            {
                // hdr_len: the parsed headers' length (a frame from the FIFO lost the port's hint;
                // 5.1.6.4.1 asks for no less than the headers anyway). FromDriver checked they parse.
                var header = _headed.AsSpan(0, VirtioNetHeader.Length);
                VirtioNetHeader.Write(header, offload.GsoType != GsoType.None && offload.HeaderLength == 0
                    && FrameHeaders.TryParse(frame, out var parsed) == OffloadStatus.Ok
                        ? offload with { HeaderLength = (ushort)parsed.HeaderLength } : offload, buffers: 1);
                // The header may span descriptors (5.1.6.3.1, note): num_buffers is found by its offset.
                withHeader = WriteSmallFrame(memory, chain, frame);
                if (!withHeader && chain.Scatter(memory, 0, header) != VirtioNetHeader.Length) why = Refusal.OutsideRam;
                if (why is null && (!TryLocate(chain, 10, out countLow) || !TryLocate(chain, 11, out countHigh)))
                    why = Refusal.OutsideRam;
            }
            int room = why is null ? (int)Math.Min(chain.WritableLength - offset, frame.Length - placed) : 0;
            if (why is null && !withHeader && chain.Scatter(memory, offset, frame.Slice(placed, room)) != room) why = Refusal.OutsideRam;
            if (why is { } refusal)
            {
                _refused[refused++] = new RefusedChain(chain.Head, refusal);
                _refusalsLeft--;
                if (buffers == 0) leading = refused;
                else buffersBeforeRefusal = buffers;
                continue;
            }
            placed += room;
            _used[buffers++] = new UsedBuffer(chain.Head, (uint)(offset + room));
        }
        if (merge && buffers > 1 && !WriteBufferCount(memory, countLow, countHigh, (ushort)buffers))
        {
            // The first buffer went away under the device (a DMA unmap): nothing of the frame is usable.
            for (int i = 0; i < buffers; i++) _used[i] = _used[i] with { Written = 0 };
            ReturnRefused(queue, refused);
            queue.PushUsed(memory, _used.AsSpan(0, buffers));
            _device.Transport.NotifyUsed(queue);
            Interlocked.Increment(ref _device.Counters.DmaFaults);
            _device.Faults.Warn(_device.Log, "receive buffer outside guest RAM", 0);
            return Outcome.Dropped;
        }
        // Refused chains first, then all of the frame's buffers in one used-index update (5.1.6.4.1).
        if (refused != 0) ReturnRefused(queue, refused);
        queue.PushUsed(memory, _used.AsSpan(0, buffers));
        _device.Counters.CountDelivered(frame);
        if (offload.GsoType != GsoType.None) Interlocked.Increment(ref _device.Counters.RxGsoFrames);
        _device.Transport.NotifyUsed(queue);
        return Outcome.Delivered;
    }

    /// <summary>
    /// The frame waits: the chains refused before its first buffer go back to the driver now, and
    /// every chain from its first buffer on goes back to the available ring unused (refused ones
    /// included: returning one of those would need the buffers before it to be used too).
    /// </summary>
    private Outcome GiveBack(SplitVirtqueue queue, int buffers, int refused, int leading, Outcome outcome)
    {
        queue.Unpop(buffers + refused - leading);
        if (leading > 0)
        {
            ReturnRefused(queue, leading);
            _device.Transport.NotifyUsed(queue);
        }
        return outcome;
    }

    /// <summary>
    /// A whole ring's worth of chains was taken and the frame still does not fit. With good chains
    /// only, it never will: it is dropped and the chains go back to the available ring for smaller
    /// frames. With refused chains among them, nothing more can arrive while the device holds the
    /// ring, so those go back to the driver, and with them (empty) the good ones taken before the
    /// last of them; the rest go back to the available ring and the frame waits.
    /// </summary>
    private Outcome RingExhausted(SplitVirtqueue queue, int buffers, int refused, int buffersBeforeRefusal)
    {
        if (refused == 0)
        {
            queue.Unpop(buffers);
            return Drop("frame needs more buffers than the queue holds");
        }
        queue.Unpop(buffers - buffersBeforeRefusal);
        for (int i = 0; i < buffersBeforeRefusal; i++) _used[i] = _used[i] with { Written = 0 };
        ReturnRefused(queue, refused);
        queue.PushUsed(_device.Memory, _used.AsSpan(0, buffersBeforeRefusal));
        _device.Transport.NotifyUsed(queue);
        return Outcome.Deferred;
    }

    /// <summary>Returns the first <paramref name="count"/> refused chains empty, each counted once on the queue and the device.</summary>
    private void ReturnRefused(SplitVirtqueue queue, int count)
    {
        var memory = _device.Memory;
        var counters = _device.Counters;
        for (int i = 0; i < count; i++)
        {
            var (head, why) = _refused[i];
            switch (why)
            {
                case Refusal.Malformed:
                    // TryPop counted it on the queue already.
                    queue.PushUsed(memory, head, 0);
                    counters.DescriptorFaults++;
                    _device.Faults.Warn(_device.Log, "malformed receive descriptor chain", head);
                    break;
                case Refusal.Shape:
                    queue.Refuse(memory, head);
                    counters.DescriptorFaults++;
                    _device.Faults.Warn(_device.Log, "receive chain with device-readable buffers or shorter than the header", head);
                    break;
                default:
                    queue.Refuse(memory, head);
                    Interlocked.Increment(ref counters.DmaFaults);
                    _device.Faults.Warn(_device.Log, "receive buffer outside guest RAM", head);
                    break;
            }
        }
    }

    /// <summary>
    /// Writes header (already at the start of <c>_headed</c>) and frame with one DMA write when the
    /// frame is small and both fit in the chain's first writable buffer; false (nothing written: a
    /// write is all or nothing) otherwise, and the caller writes them one after the other as for any frame.
    /// </summary>
    private bool WriteSmallFrame(IGuestMemory memory, in DescriptorChain chain, ReadOnlySpan<byte> frame)
    {
        if (frame.Length > SmallFrame || chain.Segments[chain.ReadableCount].Length < VirtioNetHeader.Length + frame.Length) return false;
        var headed = _headed.AsSpan(0, VirtioNetHeader.Length + frame.Length);
        frame.CopyTo(headed[VirtioNetHeader.Length..]);
        return chain.Scatter(memory, 0, headed) == headed.Length;
    }

    /// <summary>The guest address of byte <paramref name="offset"/> of the chain's writable buffers.</summary>
    private static bool TryLocate(in DescriptorChain chain, long offset, out GuestAddress at)
    {
        // Bounded by the chain's segments (at most the queue size).
        foreach (var s in chain.Segments[chain.ReadableCount..])
        {
            if (offset < s.Length) return s.Address.TryAdd((ulong)offset, out at);
            offset -= s.Length;
        }
        at = default;
        return false;
    }

    /// <summary>num_buffers (le16 at offset 10 of the header), whose two bytes may lie in different descriptors.</summary>
    private static bool WriteBufferCount(IGuestMemory memory, GuestAddress low, GuestAddress high, ushort count)
    {
        Span<byte> value = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(value, count);
        if (low.TryAdd(1, out var next) && next == high) return memory.TryWrite(low, value);
        return memory.TryWrite(low, value[..1]) && memory.TryWrite(high, value[1..]);
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
