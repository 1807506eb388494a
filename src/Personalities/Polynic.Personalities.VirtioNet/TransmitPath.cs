using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Core.Virtio;

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// Transmit queues (virtio 1.2, 5.1.6.2): each chain is a virtio_net_hdr and a frame, handed to the
/// NIC core's egress as the frame and the <see cref="FrameOffload"/> the header describes.
/// </summary>
internal sealed class TransmitPath(VirtioNetDevice device)
{
    /// <summary>Largest chain accepted: a 64 KiB GSO frame, its Ethernet/VLAN header and the virtio header.</summary>
    public const int MaxChain = VirtioNetHeader.Length + 65536 + 18 + 4;

    private readonly byte[] _chain = new byte[MaxChain];

    /// <summary>
    /// The driver notified transmit queue of pair <paramref name="pair"/>: sends what it holds. With
    /// the queue worker, the worker looks at the ring again after <see cref="CompletionDelayMicroseconds"/>
    /// (<see cref="Poll"/>) and notifications stay off until a look finds it empty; without one (a
    /// device driven directly), notifications are re-armed at once and the interrupt decided now.
    /// </summary>
    public void Process(int pair)
    {
        var queue = device.TransmitQueue(pair);
        Drain(queue);
        // Without a worker (a device driven directly, not per frame) settle now; the delegate is made per call.
        if (!device.PollLater(queue, CompletionDelayMicroseconds)) device.Settle(queue, Drain, "transmit queue");
    }

    /// <summary>
    /// The worker's look at transmit queue of pair <paramref name="pair"/>, <see cref="CompletionDelayMicroseconds"/>
    /// after the last: first the interrupt decision for what was sent before (the driver's used_event
    /// as it is now), then what the driver added meanwhile. While it keeps adding, the worker keeps
    /// looking and the driver need not notify: avail_event stays behind, so by the EVENT_IDX rule
    /// (virtio 1.2, 2.7.10) the driver's kicks are suppressed. The first look that finds nothing
    /// re-arms notifications and stops.
    /// </summary>
    /// <remarks>
    /// Under TCG a kick is an exit from translated code and a vfio-user message; while a guest
    /// sends, the looks replace about one kick per TSO frame (40,000 in 5 s guest→host) with wake-ups
    /// of the device's own thread. Each look is bounded by the queue size and releases the device
    /// lock before the next, so a driver that never stops adding costs one bounded drain per period.
    /// </remarks>
    public void Poll(int pair)
    {
        var queue = device.TransmitQueue(pair);
        device.Transport.NotifyUsed(queue);
        if (Drain(queue) > 0 || (queue.ArmNotification(device.Memory) && Drain(queue) > 0))
            device.PollLater(queue, CompletionDelayMicroseconds);
    }

    /// <summary>Sends and returns every chain the driver made available (at most a queue's worth); returns how many.</summary>
    private int Drain(SplitVirtqueue queue)
    {
        var memory = device.Memory;
        int popped = 0;
        for (int i = 0; i < queue.Size; i++)
        {
            var status = queue.TryPop(memory, out var chain);
            if (status is ChainStatus.Empty or ChainStatus.Broken)
            {
                if (status == ChainStatus.Broken) Fault("transmit ring index beyond the queue size", (ulong)queue.Index);
                break;
            }
            popped++;
            if (status == ChainStatus.Malformed)
            {
                Fault("malformed transmit descriptor chain", chain.Head);
                queue.PushUsed(memory, chain.Head, 0);
                continue;
            }
            Send(chain);
            queue.PushUsed(memory, chain.Head, 0);
        }
        return popped;
    }

    /// <summary>
    /// How long a transmit completion waits before the device decides whether to interrupt, and
    /// the period of the worker's looks at a busy transmit queue (<see cref="Poll"/>). Linux's
    /// virtio_net reclaims finished transmit buffers itself on every transmit (free_old_xmit in
    /// start_xmit) and then moves used_event past them, so while the guest keeps sending, the
    /// interrupt it asked for is usually no longer wanted when the delay ends (the decision reads
    /// used_event then, virtio 1.2, 2.7.10, which leaves the timing to the device). When the guest
    /// stops sending, its last buffers come back at most this much later. A guest→host iperf3
    /// took 40% fewer transmit interrupts and ran about 19% faster (docs/benchmarks.md); 300 µs
    /// saved more interrupts but slowed the guest's own ACK stream in the other direction. A frame
    /// the driver adds while the device polls waits at most this long for a look.
    /// </summary>
    public const int DefaultCompletionDelayMicroseconds = 100;

    /// <summary>The delay and polling period in effect (tests lengthen it to observe both outcomes).</summary>
    public int CompletionDelayMicroseconds { get; set; } = DefaultCompletionDelayMicroseconds;

    private void Send(in DescriptorChain chain)
    {
        if (chain.ReadableLength > MaxChain || chain.ReadableLength < VirtioNetHeader.Length + 14)
        {
            device.Counters.TxErrors++;
            device.Faults.Warn(device.Log, "transmit chain length out of range", (ulong)chain.ReadableLength);
            return;
        }
        int length = chain.Gather(device.Memory, _chain);
        if (length < 0)
        {
            device.Counters.DmaFaults++;
            device.Faults.Warn(device.Log, "transmit buffer outside guest RAM", chain.Head);
            return;
        }
        var frame = _chain.AsSpan(VirtioNetHeader.Length, length - VirtioNetHeader.Length);
        if (!VirtioNetHeader.TryRead(_chain, frame.Length, out var offload))
        {
            device.Counters.TxErrors++;
            device.Faults.Warn(device.Log, "virtio-net header that does not describe its frame (flags, gso_type)", (ulong)_chain[0] << 8 | _chain[1]);
            return;
        }
        // hdr_len is a hint without VIRTIO_NET_F_GUEST_HDRLEN (5.1.6.2), which is not offered: the core parses the headers.
        device.Send(frame, offload with { HeaderLength = 0, DataValid = false });
    }

    private void Fault(string what, ulong detail)
    {
        device.Counters.DescriptorFaults++;
        device.Faults.Warn(device.Log, what, detail);
    }
}
