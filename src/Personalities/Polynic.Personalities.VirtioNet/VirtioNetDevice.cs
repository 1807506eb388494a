using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Pci;
using Polynic.Core.Virtio;

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// A modern (non-transitional) virtio-net device, 1AF4:1041 (virtio 1.2, 4.1 PCI transport and
/// 5.1 network device), driven by Linux's stock virtio_net: checksum and TCP segmentation offload
/// on transmit (the NIC core's egress hands them to the port or completes them), mergeable receive buffers,
/// a control queue (RX mode, MAC table, VLAN filter, queue pairs), N queue pairs and event-index
/// notification suppression. The transport and virtqueues are the core's
/// (<see cref="VirtioPciTransport"/>); this class is what is specific to a NIC.
/// </summary>
/// <remarks>
/// Queues are processed on a worker thread of the device's own (<see cref="VirtqueueWorker"/>,
/// started at DRIVER_OK, stopped on reset and <see cref="Dispose"/>): a notification only wakes it,
/// without the device lock, so the vfio-user connection thread (whose region writes QEMU posts)
/// returns at once. Received frames arrive on the port's thread. Both work under
/// <see cref="NicDevice"/>'s lock. Frames that arrive while the guest has no receive buffers wait in
/// a <see cref="FrameFifo"/> until it posts some. Receive frames are steered to the active queue
/// pairs by a flow hash (the spec's automatic steering without RSS).
/// </remarks>
public sealed partial class VirtioNetDevice : NicDevice, IVirtioDevice, IDisposable
{
    /// <summary>Entries of every queue (queue_size as first read).</summary>
    public const ushort QueueSize = 256;

    /// <summary>Entries of the MAC filter table (QEMU's MAC_TABLE_ENTRIES) besides the station address.</summary>
    public const int MacTableEntries = 64;

    /// <summary>Bytes of device configuration: mac, status, max_virtqueue_pairs, mtu, speed, duplex.</summary>
    private const int ConfigLength = 20;

    private const ushort StatusLinkUp = 1;

    private readonly int _queuePairs;
    private readonly TransmitPath _transmit;
    private readonly ReceivePath _receive;
    private readonly ControlPath _control;
    private MacAddress _mac;
    private volatile VirtqueueWorker? _worker;
    private bool _disposed;

    /// <summary>Creates the device with station address <see cref="NicSettings.Mac"/> and <paramref name="queuePairs"/> receive/transmit pairs (1..16).</summary>
    public VirtioNetDevice(NicSettings settings, int queuePairs = 1) : base(settings)
    {
        if (queuePairs is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(queuePairs), "1..16 queue pairs.");
        _queuePairs = queuePairs;
        _mac = settings.Mac;
        var sizes = new ushort[2 * queuePairs + 1];
        Array.Fill(sizes, QueueSize);
        // One vector per queue plus the configuration vector: Linux then gives each queue its own.
        Transport = new VirtioPciTransport(this, sizes, msixVectors: sizes.Length + 1);
        Definition = VirtioPciLayout.Create(deviceType: 1, classCode: 0x020000, queues: sizes.Length,
            msixVectors: sizes.Length + 1, configSize: ConfigLength);
        Filter = new ReceiveFilter(1 + MacTableEntries, 0, MulticastHashKind.None) { PromiscuousBypassesVlan = true, BroadcastUsesGroupFilters = false };
        Faults = new FaultLog();
        _transmit = new TransmitPath(this);
        _receive = new ReceivePath(this);
        _control = new ControlPath(this);
        ResetNet();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition { get; }

    /// <summary>The virtio PCI transport: status, features, queues.</summary>
    public VirtioPciTransport Transport { get; }

    /// <summary>Queue pairs the device offers (max_virtqueue_pairs).</summary>
    public int MaxQueuePairs => _queuePairs;

    /// <summary>Queue pairs the driver made active (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; 1 after reset).</summary>
    public int ActiveQueuePairs { get; internal set; }

    /// <summary>The station address (configuration mac, or the last VIRTIO_NET_CTRL_MAC_ADDR_SET).</summary>
    public MacAddress Mac => _mac;

    /// <summary>The receive filter the control queue programs (station address, MAC table, RX mode, VLANs).</summary>
    public ReceiveFilter Filter { get; }
    internal FaultLog Faults { get; }
    internal Microsoft.Extensions.Logging.ILogger Log => Context.Log;

    /// <summary>
    /// Receive offloads in effect: the negotiated GUEST_CSUM/GUEST_TSO4/GUEST_TSO6 bits, as
    /// VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET last set them (5.1.6.5.6.1). 0 before DRIVER_OK.
    /// </summary>
    public ulong GuestOffloads { get; internal set; }

    /// <summary>Receive-mode state the control queue set (promiscuous, all-multicast, table overflow).</summary>
    internal bool Promiscuous, AllMulticast, UnicastOverflow, MulticastOverflow;

    /// <inheritdoc/>
    public ulong DeviceFeatures
    {
        get
        {
            ulong f = VirtioFeatures.Version1 | VirtioFeatures.IndirectDescriptors | VirtioFeatures.EventIndex | VirtioFeatures.RingReset
                | VirtioNetFeatures.Mac | VirtioNetFeatures.Status | VirtioNetFeatures.MrgRxbuf
                | VirtioNetFeatures.Csum | VirtioNetFeatures.GuestCsum | VirtioNetFeatures.HostTso4 | VirtioNetFeatures.HostTso6
                | VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6 | VirtioNetFeatures.CtrlGuestOffloads
                | VirtioNetFeatures.CtrlVq | VirtioNetFeatures.CtrlRx | VirtioNetFeatures.CtrlVlan | VirtioNetFeatures.CtrlMacAddr;
            // GUEST_TSO4/6 are offered whatever the port: a port that delivers only complete frames
            // simply never produces a GSO frame, and the driver loses nothing.
            if (_queuePairs > 1) f |= VirtioNetFeatures.Mq;
            return f;
        }
    }

    /// <inheritdoc/>
    public int ConfigSize => ConfigLength;

    internal bool Has(ulong feature) => Transport.Has(feature);

    /// <inheritdoc/>
    public void ReadConfig(int offset, Span<byte> data)
    {
        Span<byte> c = stackalloc byte[ConfigLength];
        _mac.CopyTo(c);
        BinaryPrimitives.WriteUInt16LittleEndian(c[6..], PortLinkUp ? StatusLinkUp : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(c[8..], (ushort)_queuePairs);
        BinaryPrimitives.WriteUInt16LittleEndian(c[10..], 1500);
        BinaryPrimitives.WriteUInt32LittleEndian(c[12..], uint.MaxValue);   // speed unknown (SPEED_DUPLEX not offered)
        c[16] = 0xFF;                                                        // duplex unknown
        c.Slice(offset, data.Length).CopyTo(data);
    }

    /// <inheritdoc/>
    /// <remarks>Virtio 1.x device configuration is read-only for a net device (5.1.4.2); writes are counted and ignored.</remarks>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => Counters.UnknownRegisterAccesses++;

    /// <inheritdoc/>
    public bool AcceptFeatures(ulong f)
    {
        bool Needs(ulong feature, ulong requirement) => (f & feature) == 0 || (f & requirement) == requirement;
        // 5.1.3.1: feature dependencies the driver must respect.
        return Needs(VirtioNetFeatures.HostTso4 | VirtioNetFeatures.HostTso6, VirtioNetFeatures.Csum)
            && Needs(VirtioNetFeatures.GuestTso4, VirtioNetFeatures.GuestCsum) && Needs(VirtioNetFeatures.GuestTso6, VirtioNetFeatures.GuestCsum)
            && Needs(VirtioNetFeatures.CtrlGuestOffloads, VirtioNetFeatures.CtrlVq)
            && Needs(VirtioNetFeatures.HostTso4, VirtioNetFeatures.Csum) && Needs(VirtioNetFeatures.HostTso6, VirtioNetFeatures.Csum)
            && Needs(VirtioNetFeatures.CtrlRx, VirtioNetFeatures.CtrlVq) && Needs(VirtioNetFeatures.CtrlVlan, VirtioNetFeatures.CtrlVq)
            && Needs(VirtioNetFeatures.Mq, VirtioNetFeatures.CtrlVq) && Needs(VirtioNetFeatures.CtrlMacAddr, VirtioNetFeatures.CtrlVq);
    }

    /// <inheritdoc/>
    public void DriverReady()
    {
        // Without CTRL_VLAN every VLAN passes (5.1.6.5.3 applies only once negotiated).
        Filter.VlanFilterEnabled = Has(VirtioNetFeatures.CtrlVlan);
        // 5.1.6.5.6.2: the negotiated receive offloads are on until the driver says otherwise.
        GuestOffloads = Transport.NegotiatedFeatures & VirtioNetFeatures.GuestOffloads;
        if (!_disposed)
        {
            _worker?.RequestStop();
            _worker = new VirtqueueWorker($"virtio-net {Settings.Mac} queues", Sync, ProcessQueue, NotifyDeferred, e => Fail("queue worker", e));
        }
        ApplyReceiveMode();
    }

    /// <inheritdoc/>
    /// <remarks>Only reached through <see cref="VirtioPciTransport.Write"/>, which this device bypasses for notifications (<see cref="TryWritePosted"/>); processes at once.</remarks>
    public void QueueNotified(int queue) => ProcessQueue(queue);

    /// <summary>The worker processes the queues it was told about; returns when the worker is idle (tests, orderly shutdown). False on timeout.</summary>
    public bool WaitForQueues(TimeSpan timeout) => _worker?.WaitIdle(timeout) ?? true;

    /// <summary>The transmit path (tests adjust its completion delay).</summary>
    internal TransmitPath Transmitter => _transmit;

    /// <summary>The current queue worker, if the driver is running (tests check its thread ends on reset).</summary>
    internal VirtqueueWorker? Worker => _worker;

    /// <summary>Stops the queue worker and waits for it. The device ignores notifications afterwards.</summary>
    public void Dispose()
    {
        VirtqueueWorker? worker;
        lock (Sync)
        {
            _disposed = true;
            worker = _worker;
            _worker = null;
        }
        worker?.Dispose();
    }

    /// <inheritdoc/>
    /// <remarks>A queue notification: the worker is woken, nothing else (4.1.4.4: the write carries no data the device needs).</remarks>
    protected override bool TryWritePosted(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (!Transport.IsNotification(bar, offset, out int queue)) return false;
        // Before DRIVER_OK there is no worker and nothing to process (the transport ignores such notifications too).
        if (_worker is { } worker)
        {
            Transport.Queues[queue].CountNotification();
            worker.Notify(queue);
        }
        return true;
    }

    private void ProcessQueue(int queue)
    {
        if (HasFailed || !Transport.CanProcess(queue)) return;
        if (queue == ControlQueueIndex) _control.Process();
        else if ((queue & 1) == 0) DeliverWaiting(queue / 2);
        else _transmit.Process(queue / 2);
    }

    /// <inheritdoc/>
    public void DeviceReset() => ResetNet();

    /// <summary>Index of the control queue: after the last queue pair (5.1.2).</summary>
    internal int ControlQueueIndex => 2 * _queuePairs;

    internal SplitVirtqueue ReceiveQueue(int pair) => Transport.Queues[2 * pair];
    internal SplitVirtqueue TransmitQueue(int pair) => Transport.Queues[2 * pair + 1];
    internal SplitVirtqueue ControlQueue => Transport.Queues[ControlQueueIndex];
    internal Polynic.Core.Memory.IGuestMemory Memory => Transport.Memory;
    internal TransmitResult Send(Span<byte> frame, in FrameOffload offload) => Transmit(frame, offload);

    /// <summary>Drain rounds per settle: a driver that adds buffers faster than 4096 rounds of a full ring is pathological.</summary>
    private const int MaxSettleRounds = 4096;

    /// <summary>
    /// After <paramref name="queue"/> was drained: decides on its interrupt and re-arms notifications,
    /// and drains again (<paramref name="drain"/>) while the driver added buffers before the re-arm.
    /// It read the old avail_event and will not kick for them, so stopping early would strand them
    /// (for the control queue, Linux then spins for the answer holding RTNL). Bounded by
    /// <see cref="MaxSettleRounds"/>; past it the queue waits for the driver's next kick.
    /// </summary>
    internal void Settle(SplitVirtqueue queue, Func<SplitVirtqueue, int> drain, string what)
    {
        for (int round = 0; round < MaxSettleRounds; round++)
        {
            Transport.NotifyUsed(queue);
            if (!queue.ArmNotification(Memory)) return;
            drain(queue);
        }
        Faults.Warn(Log, what + " kept busy past the round limit", (ulong)queue.Index);
    }

    /// <summary>
    /// Asks the worker to look at transmit queue <paramref name="queue"/> again in
    /// <paramref name="microseconds"/> (<see cref="TransmitPath.Poll"/>). False when there is no
    /// worker: the caller re-arms notifications and decides on the interrupt itself.
    /// </summary>
    internal bool PollLater(SplitVirtqueue queue, int microseconds)
    {
        if (_worker is not { } worker) return false;
        worker.Defer(queue.Index, microseconds);
        return true;
    }

    /// <summary>Frames wait for buffers on pair <paramref name="pair"/>: the worker retries delivery after <paramref name="microseconds"/>, whether or not the driver notifies.</summary>
    internal void RetryReceiveLater(int pair, int microseconds) => _worker?.Defer(2 * pair, microseconds);

    /// <summary>Deferred work on the worker: a receive queue retries waiting frames, a transmit queue is polled.</summary>
    private void NotifyDeferred(int queue)
    {
        if (HasFailed || !Transport.CanProcess(queue)) return;
        // The control queue answers at once and defers nothing.
        if (queue == ControlQueueIndex) return;
        if ((queue & 1) == 0) DeliverWaiting(queue / 2);
        else _transmit.Poll(queue / 2);
    }

    /// <summary>Receive buffers may be there for pair <paramref name="pair"/>: delivers waiting frames and wakes a port thread held back for room.</summary>
    private void DeliverWaiting(int pair)
    {
        _receive.Refilled(pair);
        ReceiveRoomAvailable();
    }

    internal void SetStationAddress(MacAddress mac)
    {
        _mac = mac;
        Filter.SetExact(0, mac, true);
    }

    /// <summary>Pushes the control queue's receive mode into the filter (QEMU's rule: table overflow means promiscuous for that class).</summary>
    internal void ApplyReceiveMode()
    {
        Filter.PromiscuousUnicast = Promiscuous || UnicastOverflow;
        Filter.AllMulticast = AllMulticast || MulticastOverflow;
        Filter.AcceptBroadcast = true;
    }

    /// <inheritdoc/>
    protected override void OnAttached() => Transport.Attach(Context);

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) => Transport.Read(bar, offset, data);

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) => Transport.Write(bar, offset, data);

    /// <inheritdoc/>
    protected override void ResetDevice() => Transport.Reset();

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => _receive.FromWire(frame);

    /// <inheritdoc/>
    protected override bool CanReceive(int frameLength) => _receive.HasRoomFor(frameLength);

    /// <inheritdoc/>
    /// <remarks>
    /// Partial checksums and TCPv4/TCPv6 GSO frames: what GUEST_CSUM and GUEST_TSO4/6 let a driver
    /// take. Whether this driver takes them now is <see cref="AcceptsReceiveOffload"/>.
    /// </remarks>
    protected override PortCapabilities ReceiveOffloads => PortCapabilities.Checksum | PortCapabilities.Segmentation;

    /// <inheritdoc/>
    protected override bool AcceptsReceiveOffload(in FrameOffload offload)
    {
        // 5.1.6.4.1: NEEDS_CSUM only with GUEST_CSUM, a gso_type only with the matching GUEST_TSO.
        if (offload.NeedsChecksum && (GuestOffloads & VirtioNetFeatures.GuestCsum) == 0) return false;
        return offload.GsoType switch
        {
            GsoType.None => true,
            GsoType.TcpV4 => (GuestOffloads & VirtioNetFeatures.GuestTso4) != 0,
            GsoType.TcpV6 => (GuestOffloads & VirtioNetFeatures.GuestTso6) != 0,
            _ => false,
        };
    }

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        // DATA_VALID means something only to a driver with GUEST_CSUM (5.1.6.4.1: else flags are 0).
        var passed = (GuestOffloads & VirtioNetFeatures.GuestCsum) != 0 ? offload : offload with { DataValid = false };
        if (!IsDeliverable(frame, passed, out int headerLength))
        {
            Interlocked.Increment(ref Counters.RxOffloadErrors);
            return;
        }
        // hdr_len: the parsed headers, not the port's hint (tun reports skb_headlen, which can
        // exceed the headers); 5.1.6.4.1 asks for no less than the headers.
        if (passed.GsoType != GsoType.None) passed = passed with { HeaderLength = (ushort)headerLength };
        _receive.FromWire(frame, passed);
    }

    /// <summary>
    /// Whether the guest's driver can use the offload as described: the checksum field inside the
    /// frame, and a GSO frame whose headers parse as the TCP its gso_type says (Linux's
    /// virtio_net_hdr_to_skb would otherwise drop it; better counted here).
    /// </summary>
    private static bool IsDeliverable(ReadOnlySpan<byte> frame, in FrameOffload offload, out int headerLength)
    {
        headerLength = 0;
        if (offload.NeedsChecksum && offload.ChecksumStart + offload.ChecksumOffset + 2 > frame.Length) return false;
        if (offload.GsoType == GsoType.None) return true;
        if (offload.SegmentSize == 0 || Polynic.Core.Nic.Offload.FrameHeaders.TryParse(frame, out var headers) != Polynic.Core.Nic.Offload.OffloadStatus.Ok)
            return false;
        headerLength = headers.HeaderLength;
        return headers.IsTcp && headers.IsIPv4 == (offload.GsoType == GsoType.TcpV4);
    }

    /// <inheritdoc/>
    protected override void OnLinkChanged(bool up)
    {
        if (Has(VirtioNetFeatures.Status)) Transport.NotifyConfigChanged();
    }

    private void ResetNet()
    {
        // Called with the lock held: the worker is only told to end; it does so without touching
        // the queues as soon as it sees the flag (it needs the lock for any work).
        _worker?.RequestStop();
        _worker = null;
        ActiveQueuePairs = 1;
        GuestOffloads = 0;
        _mac = Settings.Mac;
        Filter.Reset();
        Filter.PromiscuousBypassesVlan = true;
        Filter.BroadcastUsesGroupFilters = false;
        Filter.SetExact(0, _mac, true);
        for (int v = 0; v < ReceiveFilter.VlanCount / 32; v++) Filter.SetVlanWord(v, 0);
        // QEMU's virtio_net_reset: promiscuous until the driver's first RX mode command.
        Promiscuous = true;
        AllMulticast = UnicastOverflow = MulticastOverflow = false;
        ApplyReceiveMode();
        _receive.Reset();
    }
}
