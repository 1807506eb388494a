using System.Buffers.Binary;
using Polynic.Core.Interrupts;
using Polynic.Core.Memory;
using Polynic.Core.Pci;
using static Polynic.Core.Virtio.VirtioPciLayout;

namespace Polynic.Core.Virtio;

/// <summary>
/// The virtio 1.x PCI transport (virtio 1.2, 4.1) for any device type: common configuration
/// (feature negotiation, device status, queue setup, enable and reset, MSI-X vectors), the ISR
/// byte with INTx, per-queue notifications, and the device configuration window, laid out as
/// <see cref="VirtioPciLayout"/> says. A device type implements <see cref="IVirtioDevice"/> and
/// forwards its BAR accesses here; it never decodes a transport register.
/// </summary>
/// <remarks>
/// Not thread-safe: the owner calls it under its lock (a <c>NicDevice</c>'s <c>Sync</c>). Guest
/// writes of bad values (unknown queue, vector beyond the table, changes to a live queue) are
/// counted in <see cref="RegisterFaults"/> and ignored, never thrown.
/// </remarks>
public sealed class VirtioPciTransport
{
    private const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C;
    private const int ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, ConfigGeneration = 0x15;
    private const int QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E;
    private const int QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30, QueueNotifyData = 0x38, QueueReset = 0x3A;
    private const byte IsrQueue = 1, IsrConfig = 2;

    private readonly IVirtioDevice _device;
    private readonly SplitVirtqueue[] _queues;
    private readonly int _msixVectors;
    private IPciDeviceContext? _context;
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ulong _driverFeatures;
    private ushort _configVector;
    private VirtioStatus _status;
    private byte _generation;
    private ushort _queueSelect;
    private byte _isr;

    /// <summary>Creates the transport for <paramref name="device"/> with queues of at most <paramref name="queueMaxSizes"/>[i] entries.</summary>
    public VirtioPciTransport(IVirtioDevice device, IReadOnlyList<ushort> queueMaxSizes, int msixVectors)
    {
        _device = device;
        _msixVectors = msixVectors;
        _queues = new SplitVirtqueue[queueMaxSizes.Count];
        for (int i = 0; i < _queues.Length; i++) _queues[i] = new SplitVirtqueue(i, queueMaxSizes[i]);
        ResetState();
    }

    /// <summary>The device's queues, by index.</summary>
    public IReadOnlyList<SplitVirtqueue> Queues => _queues;

    /// <summary>Features both sides agreed on (valid once <see cref="VirtioStatus.FeaturesOk"/> is set).</summary>
    public ulong NegotiatedFeatures => (_status & VirtioStatus.FeaturesOk) != 0 ? _driverFeatures : 0;

    /// <summary>The device status byte.</summary>
    public VirtioStatus Status => _status;

    /// <summary>The driver set DRIVER_OK and has not reset the device since.</summary>
    public bool DriverOk => (_status & VirtioStatus.DriverOk) != 0 && (_status & VirtioStatus.FeaturesOk) != 0;

    /// <summary>Guest writes that were refused (bad queue index, vector, late changes, unknown offsets).</summary>
    public long RegisterFaults { get; private set; }

    /// <summary>Guest memory for the queues.</summary>
    public IGuestMemory Memory => Context.Dma;

    private IPciDeviceContext Context => _context ?? throw new InvalidOperationException("The transport is not attached to a PCI function yet.");

    /// <summary>Whether <paramref name="feature"/> was negotiated.</summary>
    public bool Has(ulong feature) => (NegotiatedFeatures & feature) == feature;

    /// <summary>Connects the transport to the PCI function's DMA and interrupts.</summary>
    public void Attach(IPciDeviceContext context) => _context = context;

    /// <summary>A read of BAR <paramref name="bar"/> (the device's ReadBar, forwarded).</summary>
    public void Read(int bar, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (bar != StructuresBar) return;
        if (offset < CommonOffset + CommonLength) { ReadCommon((int)offset, data); return; }
        if (offset >= IsrOffset && offset < IsrOffset + 4)
        {
            // 4.1.4.5: reading the ISR returns and clears it, and de-asserts INTx.
            if (offset == IsrOffset) data[0] = _isr;
            _isr = 0;
            _context?.Interrupts.SetLevel(0, false);
            return;
        }
        if (offset >= DeviceOffset && offset - DeviceOffset + (ulong)data.Length <= (ulong)_device.ConfigSize)
            _device.ReadConfig((int)(offset - DeviceOffset), data);
    }

    /// <summary>A write to BAR <paramref name="bar"/> (the device's WriteBar, forwarded).</summary>
    public void Write(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar != StructuresBar) { RegisterFaults++; return; }
        if (offset < CommonOffset + CommonLength) { WriteCommon((int)offset, data); return; }
        if (offset >= NotifyOffset && offset < NotifyOffset + (ulong)_queues.Length * NotifyMultiplier)
        {
            int queue = (int)((offset - NotifyOffset) / NotifyMultiplier);
            if (DriverOk && _queues[queue].IsLive) _device.QueueNotified(queue);
            return;
        }
        if (offset >= DeviceOffset && offset - DeviceOffset + (ulong)data.Length <= (ulong)_device.ConfigSize)
        {
            _device.WriteConfig((int)(offset - DeviceOffset), data);
            return;
        }
        RegisterFaults++;
    }

    /// <summary>
    /// Whether a write to BAR <paramref name="bar"/> at <paramref name="offset"/> is a queue
    /// notification (4.1.4.4), and for which queue. A pure function of the layout and needs no lock,
    /// so a device can hand notifications to a worker of its own (<see cref="VirtqueueWorker"/>)
    /// without taking its lock on the notifying thread. Whether the queue is live is for the worker
    /// to check under the lock.
    /// </summary>
    public bool IsNotification(int bar, ulong offset, out int queue)
    {
        queue = -1;
        if (bar != StructuresBar || offset < NotifyOffset || offset >= NotifyOffset + (ulong)_queues.Length * NotifyMultiplier) return false;
        queue = (int)((offset - NotifyOffset) / NotifyMultiplier);
        return true;
    }

    /// <summary>Whether queue <paramref name="queue"/> may be processed now: the driver is running and the queue is live.</summary>
    public bool CanProcess(int queue) => DriverOk && (uint)queue < (uint)_queues.Length && _queues[queue].IsLive;

    /// <summary>Function-level reset: as a driver writing 0 to device_status.</summary>
    public void Reset()
    {
        ResetState();
        _device.DeviceReset();
    }

    /// <summary>
    /// Tells the driver that <paramref name="queue"/> has used buffers, if it wants to know (event
    /// index or NO_INTERRUPT): its MSI-X vector, or the ISR queue bit and INTx.
    /// </summary>
    public void NotifyUsed(SplitVirtqueue queue)
    {
        if (queue.NeedsInterrupt(Memory)) Raise(queue.MsixVector, IsrQueue);
    }

    /// <summary>The device configuration changed (link status): bumps config_generation and interrupts on the config vector.</summary>
    public void NotifyConfigChanged()
    {
        _generation++;
        if (DriverOk) Raise(_configVector, IsrConfig);
    }

    private void Raise(ushort vector, byte isrBit)
    {
        var interrupts = Context.Interrupts;
        if (interrupts.Mode == InterruptMode.Msix)
        {
            if (vector != SplitVirtqueue.NoVector) interrupts.Notify(vector);
            return;
        }
        _isr |= isrBit;
        interrupts.SetLevel(0, true);
    }

    private void ResetState()
    {
        _deviceFeatureSelect = _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _configVector = SplitVirtqueue.NoVector;
        _status = VirtioStatus.None;
        _queueSelect = 0;
        _isr = 0;
        foreach (var q in _queues) q.Reset();
        _context?.Interrupts.SetLevel(0, false);
    }

    private SplitVirtqueue? Selected => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

    private void ReadCommon(int offset, Span<byte> data)
    {
        Span<byte> c = stackalloc byte[(int)CommonLength];
        c.Clear();
        ulong offered = _device.DeviceFeatures;
        BinaryPrimitives.WriteUInt32LittleEndian(c[DeviceFeatureSelect..], _deviceFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(c[DeviceFeature..], _deviceFeatureSelect switch
        {
            0 => (uint)offered,
            1 => (uint)(offered >> 32),
            _ => 0,
        });
        BinaryPrimitives.WriteUInt32LittleEndian(c[DriverFeatureSelect..], _driverFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(c[DriverFeature..], _driverFeatureSelect switch
        {
            0 => (uint)_driverFeatures,
            1 => (uint)(_driverFeatures >> 32),
            _ => 0,
        });
        BinaryPrimitives.WriteUInt16LittleEndian(c[ConfigMsixVector..], _configVector);
        BinaryPrimitives.WriteUInt16LittleEndian(c[NumQueues..], (ushort)_queues.Length);
        c[DeviceStatus] = (byte)_status;
        c[ConfigGeneration] = _generation;
        BinaryPrimitives.WriteUInt16LittleEndian(c[QueueSelect..], _queueSelect);
        if (Selected is { } q)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(c[QueueSize..], q.Size);
            BinaryPrimitives.WriteUInt16LittleEndian(c[QueueMsixVector..], q.MsixVector);
            BinaryPrimitives.WriteUInt16LittleEndian(c[QueueEnable..], q.Enabled ? (ushort)1 : (ushort)0);
            BinaryPrimitives.WriteUInt16LittleEndian(c[QueueNotifyOff..], (ushort)q.Index);
            BinaryPrimitives.WriteUInt64LittleEndian(c[QueueDesc..], q.DescriptorTable.Value);
            BinaryPrimitives.WriteUInt64LittleEndian(c[QueueDriver..], q.DriverArea.Value);
            BinaryPrimitives.WriteUInt64LittleEndian(c[QueueDevice..], q.DeviceArea.Value);
            BinaryPrimitives.WriteUInt16LittleEndian(c[QueueNotifyData..], (ushort)q.Index);
        }
        int n = Math.Min(data.Length, c.Length - offset);
        c.Slice(offset, n).CopyTo(data);
    }

    /// <summary>
    /// Applies a write of any width: the bytes land on a snapshot of the structure, and every field
    /// the write touched takes its new value (Linux writes the 64-bit addresses as two dwords).
    /// </summary>
    private void WriteCommon(int offset, ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, (int)CommonLength - offset);
        Span<byte> c = stackalloc byte[(int)CommonLength];
        ReadCommon(0, c);
        data[..n].CopyTo(c[offset..]);
        bool Touches(int field, int width) => offset < field + width && offset + n > field;

        if (Touches(DeviceFeatureSelect, 4)) _deviceFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(c[DeviceFeatureSelect..]);
        if (Touches(DriverFeatureSelect, 4)) _driverFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(c[DriverFeatureSelect..]);
        if (Touches(DriverFeature, 4)) WriteDriverFeatures(BinaryPrimitives.ReadUInt32LittleEndian(c[DriverFeature..]));
        if (Touches(ConfigMsixVector, 2)) _configVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(c[ConfigMsixVector..]));
        if (Touches(QueueSelect, 2)) _queueSelect = BinaryPrimitives.ReadUInt16LittleEndian(c[QueueSelect..]);
        if (Touches(DeviceStatus, 1)) WriteStatus((VirtioStatus)c[DeviceStatus]);
        if (Touches(QueueSize, 2) || Touches(QueueMsixVector, 2) || Touches(QueueEnable, 2)
            || Touches(QueueDesc, 24) || Touches(QueueReset, 2))
            WriteQueue(c, Touches);
        if (Touches(NumQueues, 2) || Touches(ConfigGeneration, 1) || Touches(QueueNotifyOff, 2)) RegisterFaults++;
    }

    private void WriteQueue(ReadOnlySpan<byte> c, Func<int, int, bool> touches)
    {
        if (Selected is not { } q) { RegisterFaults++; return; }
        if (touches(QueueReset, 2) && c[QueueReset] == 1)
        {
            // 4.1.4.3.2: the queue returns to its reset state; queue_reset then reads 0 (done at once).
            bool eventIndex = q.EventIndex;
            q.Reset();
            q.EventIndex = eventIndex;
            return;
        }
        if (touches(QueueMsixVector, 2)) q.MsixVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(c[QueueMsixVector..]));
        if (q.Enabled)
        {
            // 4.1.4.3.2: the driver must not change a live queue's layout; ignore it.
            if (touches(QueueSize, 2) || touches(QueueDesc, 24)) RegisterFaults++;
            return;
        }
        if (touches(QueueSize, 2))
        {
            ushort size = BinaryPrimitives.ReadUInt16LittleEndian(c[QueueSize..]);
            // A split ring's size is a power of two no larger than the maximum (2.7); anything else leaves the queue dead.
            if (size == 0 || size > q.MaxSize || (size & (size - 1)) != 0) RegisterFaults++;
            q.Size = size;
        }
        if (touches(QueueDesc, 8)) q.DescriptorTable = new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(c[QueueDesc..]));
        if (touches(QueueDriver, 8)) q.DriverArea = new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(c[QueueDriver..]));
        if (touches(QueueDevice, 8)) q.DeviceArea = new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(c[QueueDevice..]));
        if (touches(QueueEnable, 2) && c[QueueEnable] == 1)
        {
            q.EventIndex = (_driverFeatures & VirtioFeatures.EventIndex) != 0;
            q.Enabled = true;
        }
    }

    private ushort CheckVector(ushort vector)
    {
        if (vector == SplitVirtqueue.NoVector || vector < _msixVectors) return vector;
        // 4.1.5.1.2: a vector the device cannot use reads back as NO_VECTOR.
        RegisterFaults++;
        return SplitVirtqueue.NoVector;
    }

    private void WriteDriverFeatures(uint half)
    {
        if ((_status & VirtioStatus.FeaturesOk) != 0 || _driverFeatureSelect > 1) { RegisterFaults++; return; }
        int shift = (int)_driverFeatureSelect * 32;
        _driverFeatures = (_driverFeatures & ~(0xFFFF_FFFFUL << shift)) | ((ulong)half << shift);
    }

    private void WriteStatus(VirtioStatus value)
    {
        if (value == VirtioStatus.None) { Reset(); return; }
        var old = _status;
        if ((value & VirtioStatus.FeaturesOk) != 0 && (old & VirtioStatus.FeaturesOk) == 0)
        {
            ulong offered = _device.DeviceFeatures;
            bool ok = (_driverFeatures & ~offered) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0
                && _device.AcceptFeatures(_driverFeatures);
            // 3.1.1: refusing leaves FEATURES_OK clear, which the driver reads back.
            if (!ok) { value &= ~VirtioStatus.FeaturesOk; RegisterFaults++; }
        }
        _status = value | (old & VirtioStatus.FeaturesOk & (value & VirtioStatus.FeaturesOk));
        if ((_status & VirtioStatus.DriverOk) != 0 && (old & VirtioStatus.DriverOk) == 0 && (_status & VirtioStatus.FeaturesOk) != 0)
        {
            foreach (var q in _queues) q.EventIndex = (_driverFeatures & VirtioFeatures.EventIndex) != 0;
            _device.DriverReady();
        }
    }
}
