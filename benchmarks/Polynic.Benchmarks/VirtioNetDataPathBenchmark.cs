using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.Core.Virtio;
using Polynic.Personalities.VirtioNet;
using Polynic.TestMachine;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;

namespace Polynic.Benchmarks;

/// <summary>
/// The virtio-net personality's frame paths through the split-virtqueue engine on one core, in
/// the in-process machine (no VMM, no socket). Transmit = the guest publishes a full ring of
/// one-descriptor chains (12-byte virtio_net_hdr + frame), notifies once, and the device pops,
/// gathers and hands each frame to a port; receive = a port delivers frames and the device
/// writes header and frame into mergeable receive buffers and returns them on the used ring.
/// The driver negotiates what Linux's virtio_net does (EVENT_IDX, MRG_RXBUF, MSI-X) and asks
/// for one interrupt per batch through used_event, as NAPI does under load. One operation = one frame.
/// </summary>
[MemoryDiagnoser]
public class VirtioNetDataPathBenchmark
{
    private const ushort Ring = VirtioNetDevice.QueueSize;
    private const int RxQueue = 0, TxQueue = 1;
    private const uint RxBufferSize = 1536;

    // virtio_pci_common_cfg offsets (virtio 1.2, 4.1.4.3).
    private const uint DriverFeatureSelect = 0x08, DriverFeature = 0x0C, ConfigMsixVector = 0x10, NumQueues = 0x12;
    private const uint DeviceStatus = 0x14, QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C;
    private const uint QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30;

    private const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.EventIndex | VirtioFeatures.IndirectDescriptors
        | Mac | Status | MrgRxbuf | Csum | GuestCsum | HostTso4 | HostTso6 | CtrlVq | CtrlRx | CtrlVlan;

    private const ulong RingsBase = 0x1_0000, IndirectTables = 0x8_0000, TxBuffers = 0x10_0000, RxBuffers = 0x40_0000;

    // struct virtq_desc flags (virtio 1.2, 2.7.5).
    private const ushort DescNext = 1, DescWrite = 2, DescIndirect = 4;

    private static readonly MacAddress Station = MacAddress.Parse("52:54:00:12:34:56");

    private Machine _machine = null!;
    private VirtioNetDevice _nic = null!;
    private IPortReceiver _wire = null!;
    private CountingInterrupts _interrupts = null!;
    private ulong _bar0;
    private byte[] _frame = null!;
    private ushort _txAvail, _rxAvail;
    private long _txPublished, _rxOffered;
    private ScrapeLoop? _scrape;

    [Params(64, 1500)]
    public int FrameSize { get; set; }

    [GlobalSetup(Targets = [nameof(Transmit), nameof(Receive)])]
    public void Setup() => Setup(indirect: false);

    [GlobalSetup(Target = nameof(TransmitIndirect))]
    public void SetupIndirect() => Setup(indirect: true);

    private void Setup(bool indirect)
    {
        _scrape = ScrapeLoop.StartIfAsked();
        _machine = new Machine(ramSize: 32 << 20);
        _nic = new VirtioNetDevice(new NicSettings(Station));
        _nic.AttachPort(new DiscardPort());
        int slot = _machine.Plug(_nic);
        var bars = _machine.Enumerate(slot);
        _bar0 = bars[VirtioPciLayout.StructuresBar];
        // A sink that only counts: the machine's own interrupt log records every message, which
        // would be the benchmark's allocation, not the device's.
        _interrupts = new CountingInterrupts();
        _machine.Function(slot).Connect(_machine.Ram, _interrupts);
        _wire = _nic;
        EnableMsix(slot, bars[VirtioPciLayout.MsixBar]);

        _frame = new byte[FrameSize];
        Station.CopyTo(_frame);
        new byte[] { 0x02, 0, 0, 0, 0, 2, 0x08, 0x00 }.CopyTo(_frame, 6);

        // virtio_pci_modern probe: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
        Write(DeviceStatus, 0, 1);
        Write(DeviceStatus, 1, 1);
        Write(DeviceStatus, 3, 1);
        Write(DriverFeatureSelect, 0);
        Write(DriverFeature, unchecked((uint)Features));
        Write(DriverFeatureSelect, 1);
        Write(DriverFeature, (uint)(Features >> 32));
        Write(DeviceStatus, 11, 1);
        if ((Read(DeviceStatus, 1) & 8) == 0) throw new InvalidOperationException("The device refused the feature set.");
        int queues = (int)Read(NumQueues, 2);
        for (int q = 0; q < queues; q++)
        {
            ulong at = RingsBase + (ulong)q * 0x1_0000;
            Write(QueueSelect, (uint)q, 2);
            Write(QueueSize, Ring, 2);
            Write(QueueMsixVector, (uint)(q + 1), 2);
            WriteAddress(QueueDesc, Descriptors(q));
            WriteAddress(QueueDriver, Avail(q));
            WriteAddress(QueueDevice, at + 0x8000);
            Write(QueueEnable, 1, 2);
        }
        Write(ConfigMsixVector, 0, 2);
        Write(DeviceStatus, 15, 1);

        // Transmit: chain i = a zero header (no offload) and the frame; avail slot i = head i, so every
        // lap of the ring publishes the same chains and the guest only bumps avail->idx. Direct: one
        // descriptor holding both (Linux pushes the header in front of the data when it can). Indirect:
        // an indirect table of header + frame (Linux when the header cannot go in the packet's own headroom).
        for (ushort i = 0; i < Ring; i++)
        {
            ulong buffer = TxBuffers + (ulong)i * 2048;
            _machine.Ram.Span(buffer, NetHeaderLength).Clear();
            _frame.CopyTo(_machine.Ram.Span(buffer + NetHeaderLength, FrameSize));
            if (indirect)
            {
                ulong table = IndirectTables + (ulong)i * 32;
                WriteDescriptor(table, buffer, NetHeaderLength, DescNext, next: 1);
                WriteDescriptor(table + 16, buffer + NetHeaderLength, (uint)FrameSize, 0, next: 0);
                WriteDescriptor(Descriptors(TxQueue) + 16UL * i, table, 32, DescIndirect, next: 0);
            }
            else WriteDescriptor(Descriptors(TxQueue) + 16UL * i, buffer, (uint)(NetHeaderLength + FrameSize), 0, next: 0);
            SetAvailEntry(TxQueue, i, i);
        }

        // Receive: mergeable buffers of 1536 bytes (a whole 1500-byte frame and its header fit in one).
        for (ushort i = 0; i < Ring; i++)
        {
            WriteDescriptor(Descriptors(RxQueue) + 16UL * i, RxBuffers + (ulong)i * 2048, RxBufferSize, DescWrite, next: 0);
            SetAvailEntry(RxQueue, i, i);
        }
        _rxAvail = Publish(RxQueue, _rxAvail);
    }

    private const int NetHeaderLength = 12;

    /// <summary>256 frames per call: the guest publishes a whole ring of one-descriptor transmit chains and notifies once.</summary>
    [Benchmark(OperationsPerInvoke = Ring)]
    public void Transmit()
    {
        _txAvail = Publish(TxQueue, _txAvail);
        _txPublished += Ring;
        // The notification only wakes the device's queue worker; the frames count once it has put
        // them on the wire. Spin rather than block: a guest does not wait for its transmits, so
        // the time measured should include the worker's wake-up but not a second one for us.
        var counters = _nic.Counters;
        var deadline = Environment.TickCount64 + 10_000;
        while (counters.TxFrames != _txPublished)
        {
            if (Environment.TickCount64 > deadline) throw new InvalidOperationException("the queue worker did not drain the ring");
            Thread.SpinWait(20);
        }
    }

    /// <summary>As <see cref="Transmit"/>, each chain an indirect table of two descriptors (header, frame).</summary>
    [Benchmark(OperationsPerInvoke = Ring)]
    public void TransmitIndirect() => Transmit();

    /// <summary>256 frames per call into a ring the guest has just refilled (one notification).</summary>
    [Benchmark(OperationsPerInvoke = Ring)]
    public void Receive()
    {
        for (int i = 0; i < Ring; i++) _wire.Receive(_frame);
        _rxAvail = Publish(RxQueue, _rxAvail);
        _rxOffered += Ring;
    }

    /// <summary>Every frame offered went through, and interrupts were delivered: the numbers measure the work they claim.</summary>
    [GlobalCleanup]
    public void Check()
    {
        _scrape?.Dispose();
        var c = _nic.Counters;
        if (c.TxFrames != _txPublished || c.RxFrames != _rxOffered || c.TxErrors + c.DescriptorFaults + c.DmaFaults != 0)
            throw new InvalidOperationException($"Frames went missing ({_txPublished} sent, {_rxOffered} received): "
                + string.Join(", ", c.Snapshot().Where(p => p.Value != 0)));
        if (_rxOffered > 0)
        {
            // The last lap's first used element: header + frame in one buffer, num_buffers = 1.
            var used = _machine.Ram.Span(Descriptors(RxQueue) + 0x8000 + 4, 8);
            var buffer = _machine.Ram.Span(RxBuffers + 2048UL * BinaryPrimitives.ReadUInt32LittleEndian(used), NetHeaderLength + FrameSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(used[4..]) != NetHeaderLength + FrameSize
                || BinaryPrimitives.ReadUInt16LittleEndian(buffer[10..]) != 1 || !buffer[NetHeaderLength..].SequenceEqual(_frame))
                throw new InvalidOperationException("The received frame is not in the guest's buffer as the driver expects it.");
        }
        if (c.TxFrames + c.RxFrames > 0 && _interrupts.Messages == 0)
            throw new InvalidOperationException("No used-buffer interrupt was delivered.");
        Console.WriteLine($"// checked: {c.TxFrames} frames transmitted, {c.RxFrames} received, {_interrupts.Messages} interrupts");
    }

    /// <summary>
    /// Makes the ring's 256 chains available again (avail->idx += 256), asks for an interrupt once
    /// the last of them is used (used_event, virtio 1.2, 2.7.10), and notifies the queue.
    /// </summary>
    private ushort Publish(int queue, ushort availIdx)
    {
        availIdx += Ring;
        var avail = _machine.Ram.Span(Avail(queue), 6 + 2 * Ring);
        BinaryPrimitives.WriteUInt16LittleEndian(avail[(4 + 2 * Ring)..], (ushort)(availIdx - 1));
        BinaryPrimitives.WriteUInt16LittleEndian(avail[2..], availIdx);
        _machine.MmioWrite(_bar0 + VirtioPciLayout.NotifyOffset + (ulong)queue * VirtioPciLayout.NotifyMultiplier, (uint)queue, 2);
        return availIdx;
    }

    private static ulong Descriptors(int queue) => RingsBase + (ulong)queue * 0x1_0000;
    private static ulong Avail(int queue) => Descriptors(queue) + 0x4000;

    private void WriteDescriptor(ulong at, ulong address, uint length, ushort flags, ushort next)
    {
        var d = _machine.Ram.Span(at, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    private void SetAvailEntry(int queue, ushort slot, ushort head) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_machine.Ram.Span(Avail(queue) + 4 + 2UL * slot, 2), head);

    private uint Read(uint offset, int width = 4) => _machine.MmioRead(_bar0 + offset, width);

    private void Write(uint offset, uint value, int width = 4) => _machine.MmioWrite(_bar0 + offset, value, width);

    private void WriteAddress(uint offset, ulong value)
    {
        Write(offset, (uint)value);
        Write(offset + 4, (uint)(value >> 32));
    }

    /// <summary>Sets MSI-X Enable in the capability and unmasks every vector in the table, as the guest's PCI core does.</summary>
    private void EnableMsix(int slot, ulong msixBar)
    {
        uint at = _machine.ConfigRead(slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (_machine.ConfigRead(slot, (int)at, 1) == 0x11)
            {
                _machine.ConfigWrite(slot, (int)at + 2, 0x8000, 2);
                int vectors = (int)(_machine.ConfigRead(slot, (int)at + 2, 2) & 0x7FF) + 1;
                for (int v = 0; v < vectors; v++) _machine.MmioWrite(msixBar + (ulong)v * 16 + 12, 0);
                return;
            }
            at = _machine.ConfigRead(slot, (int)at + 1, 1);
        }
        throw new InvalidOperationException("The device has no MSI-X capability.");
    }

    /// <summary>An interrupt controller that only counts messages.</summary>
    private sealed class CountingInterrupts : IInterruptSink
    {
        public long Messages;
        public bool EmulatesMsixTable => false;
        public void SetIntx(bool asserted) { }
        public void SignalMsi(int vector, MsiMessage message) => Messages++;
        public void SignalMsix(int vector, MsiMessage message) => Messages++;
    }
}
