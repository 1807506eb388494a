using System.Buffers.Binary;
using Polynic.Core.Pci;
using Polynic.Core.Virtio;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// virtio-net 1.x over the core's virtio PCI transport (virtio 1.2, 4.1.4: common configuration at
/// 0x0000, ISR 0x1000, device configuration 0x2000, notifications 0x3000 + 4 × queue).
/// </summary>
/// <remarks>
/// The personality processes queues on a worker thread of its own, started at DRIVER_OK, which would
/// make a run depend on thread timing. A disposed device never starts one (it then processes a
/// notification when <see cref="IVirtioDevice.QueueNotified"/> is called, settles transmit queues at
/// once and retries waiting receive frames at the next notification: its documented direct path).
/// So the profile disposes each device before it is plugged in and rings the doorbell by calling
/// QueueNotified under the device lock, as the transport does for a device without a worker;
/// notifications written to the notify area are then ignored by the device, like those before DRIVER_OK.
/// </remarks>
internal sealed class VirtioNetProfile : DeviceProfile
{
    private const int Bar = 0;
    private const uint FeatureSelect = 0x00, Feature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C, MsixConfig = 0x10, NumQueues = 0x12;
    private const uint Status = 0x14, QueueSelect = 0x16, QueueSize = 0x18, QueueMsix = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E;
    private const uint QueueDesc = 0x20, QueueAvail = 0x28, QueueUsed = 0x30, QueueReset = 0x3A;
    private const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8;
    private const int HeaderLength = 12;
    private const ushort DescWrite = 2;

    /// <remarks>
    /// device_status is left to the doorbell (now and then): a random status write resets the device or
    /// leaves it without DRIVER_OK, and hit as often as the other registers it kept the data path off
    /// for most of every run.
    /// </remarks>
    public override IReadOnlyList<RegisterHint> Registers { get; } =
    [
        .. new (uint, int)[]
        {
            (FeatureSelect, 4), (Feature, 4), (DriverFeatureSelect, 4), (DriverFeature, 4), (MsixConfig, 2), (NumQueues, 2),
            (0x15, 1), (QueueSelect, 2), (QueueSize, 2), (QueueMsix, 2), (QueueEnable, 2), (QueueNotifyOff, 2), (QueueDesc, 8), (QueueDesc + 4, 4),
            (QueueAvail, 8), (QueueAvail + 4, 4), (QueueUsed, 8), (QueueUsed + 4, 4), (QueueReset, 2),
            (VirtioPciLayout.IsrOffset, 1), (VirtioPciLayout.DeviceOffset, 4), (VirtioPciLayout.DeviceOffset + 6, 2),
            (VirtioPciLayout.NotifyOffset, 2), (VirtioPciLayout.NotifyOffset + 4, 2), (VirtioPciLayout.NotifyOffset + 8, 2),
        }.Select(r => new RegisterHint(Bar, r.Item1, r.Item2)),
    ];

    public override bool HasDoorbells => true;

    public override void Prepare(IPciDevice device)
    {
        if (device is IVirtioDevice and IDisposable disposable) disposable.Dispose();
    }

    public override void Doorbell(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        if (d.Device is not IVirtioDevice virtio) return;
        if (random.OneIn(24))
        {
            // The driver's status dance: a probe from the start, or one status write in order or not.
            if (random.Coin()) Initialize(d, random);
            else d.Write(Bar, Status, random.Pick<uint>([0, Acknowledge, Acknowledge | Driver, Acknowledge | Driver | FeaturesOk, 15, random.NextUInt32() & 0xFF]), 1);
            return;
        }
        int queues = (int)d.Read(Bar, NumQueues, 2);
        int queue = random.OneIn(16) ? random.Below(80) : random.Below(Math.Max(1, queues));
        if (queue < queues && random.Coin()) Offer(d, values, queue);
        Notify(d, virtio, queue);
    }

    /// <summary>
    /// What a driver does before a kick, with hostile content: a few descriptor chains (any flags,
    /// NEXT pointing anywhere in the table, buffers anywhere) written where the queue's table is and
    /// made available after the index the driver last published.
    /// </summary>
    private static void Offer(FuzzedDevice d, AdversarialValues values, int queue)
    {
        var random = values.Random;
        d.Write(Bar, QueueSelect, (ulong)queue, 2);
        ulong size = d.Read(Bar, QueueSize, 2), table = d.Read(Bar, QueueDesc, 8), avail = d.Read(Bar, QueueAvail, 8);
        if (size == 0 || table >= values.RamEnd || values.RamEnd - table < size * 16 || avail >= values.RamEnd || values.RamEnd - avail < 6 + size * 2) return;
        bool receive = (queue & 1) == 0 && queue != ControlQueue(d);
        ushort index = BinaryPrimitives.ReadUInt16LittleEndian(d.Ram(avail + 2, 2));
        int chains = random.Between(1, 4);
        for (int c = 0; c < chains; c++)
        {
            ushort head = (ushort)random.Below((int)size);
            ushort at = head;
            int length = random.Between(1, 4);
            for (int k = 0; k < length; k++)
            {
                // Next: the following entry, back to the head (a loop), any entry, or past the table.
                ushort next = random.Below(8) switch
                {
                    0 => (ushort)random.NextUInt32(),
                    1 => head,
                    2 => (ushort)random.Below((int)size),
                    _ => (ushort)((at + 1) % (int)size),
                };
                // NEXT on all but the last (and now and then on it too, running into whatever the table
                // holds), WRITE mostly as the queue's direction wants, INDIRECT and junk bits rarely.
                uint flags = (k < length - 1 || random.OneIn(6) ? 1u : 0) | (random.Percent(receive ? 85 : 15) ? DescWrite : 0u)
                    | (random.OneIn(12) ? 4u : 0) | (random.OneIn(32) ? random.NextUInt32() & 0xFFF8 : 0);
                var descriptor = d.Ram(table + (ulong)at * 16, 16);
                BinaryPrimitives.WriteUInt64LittleEndian(descriptor, random.Percent(70)
                    ? (receive ? SanityLayout.RxBuffers : SanityLayout.TxBuffers) + (ulong)random.Below(16) * 512 : values.Pointer());
                BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], random.Percent(70) ? (uint)random.Between(0, 2048) : (uint)values.Length());
                BinaryPrimitives.WriteUInt16LittleEndian(descriptor[12..], (ushort)flags);
                BinaryPrimitives.WriteUInt16LittleEndian(descriptor[14..], next);
                at = (ushort)(next % size);
            }
            if (queue == ControlQueue(d) && random.Coin()) Command(d, table + (ulong)head * 16, random);
            BinaryPrimitives.WriteUInt16LittleEndian(d.Ram(avail + 4 + (ulong)(index % size) * 2, 2), head);
            index++;
        }
        if (random.OneIn(16)) index += (ushort)random.Below(1024);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Ram(avail + 2, 2), index);
    }

    /// <summary>The control queue's index: after the queue pairs (5.1.2), the last queue.</summary>
    private static int ControlQueue(FuzzedDevice d) => (int)d.Read(Bar, NumQueues, 2) - 1;

    /// <summary>
    /// Puts a control command header (5.1.6.5) where the chain's first buffer is, if that is in RAM: a
    /// class the device knows (RX, MAC, VLAN, MQ, guest offloads) or not, a command number around the
    /// defined ones, so the control path parses more than it refuses.
    /// </summary>
    private static void Command(FuzzedDevice d, ulong descriptor, FuzzRandom random)
    {
        ulong buffer = BinaryPrimitives.ReadUInt64LittleEndian(d.Ram(descriptor, 8));
        if (buffer >= (ulong)d.RamSize - 2) return;
        var header = d.Ram(buffer, 2);
        header[0] = random.Pick<byte>([0, 1, 2, 4, 5, (byte)random.NextUInt32()]);
        header[1] = (byte)random.Below(6);
    }

    private static void Notify(FuzzedDevice d, IVirtioDevice virtio, int queue) =>
        d.RunDeviceWork($"processing queue {queue}", () => virtio.QueueNotified(queue));

    /// <summary>
    /// virtio_pci_modern + virtio_net probe: one receive and one transmit queue of
    /// <see cref="SanityLayout.Entries"/>, MSI-X vectors as Linux assigns them. The sanity driver takes
    /// VERSION_1 alone; varied, any subset of the offered features (with their dependencies, mostly)
    /// and then the control queue too.
    /// </summary>
    public override void Initialize(FuzzedDevice d, FuzzRandom? variation = null)
    {
        d.Write(Bar, Status, 0, 1);
        d.Write(Bar, Status, Acknowledge, 1);
        d.Write(Bar, Status, Acknowledge | Driver, 1);
        ulong features = Version1;
        if (variation is not null) features |= Features(d, variation);
        d.Write(Bar, DriverFeatureSelect, 0, 4);
        d.Write(Bar, DriverFeature, (uint)features, 4);
        d.Write(Bar, DriverFeatureSelect, 1, 4);
        d.Write(Bar, DriverFeature, features >> 32, 4);
        d.Write(Bar, Status, Acknowledge | Driver | FeaturesOk, 1);
        d.Write(Bar, MsixConfig, 0, 2);
        SetUpQueue(d, 0, SanityLayout.RxRing);
        SetUpQueue(d, 1, SanityLayout.TxRing);
        if ((features & CtrlVq) != 0) SetUpQueue(d, 2, SanityLayout.ControlRing);
        d.Write(Bar, Status, Acknowledge | Driver | FeaturesOk | DriverOk, 1);
    }

    private const ulong Version1 = 1UL << 32, Csum = 1UL << 0, GuestCsum = 1UL << 1, CtrlGuestOffloads = 1UL << 2, GuestTso4 = 1UL << 7, GuestTso6 = 1UL << 8;
    private const ulong HostTso4 = 1UL << 11, HostTso6 = 1UL << 12, CtrlVq = 1UL << 17, CtrlRx = 1UL << 18, CtrlVlan = 1UL << 19, CtrlMacAddr = 1UL << 23;

    /// <summary>A random subset of what the device offers; the dependencies of 5.1.3.1 added, except now and then.</summary>
    private static ulong Features(FuzzedDevice d, FuzzRandom random)
    {
        d.Write(Bar, FeatureSelect, 0, 4);
        ulong offered = d.Read(Bar, Feature, 4);
        d.Write(Bar, FeatureSelect, 1, 4);
        offered |= d.Read(Bar, Feature, 4) << 32;
        ulong f = offered & random.NextUInt64();
        if (random.OneIn(8)) return f;
        if ((f & (HostTso4 | HostTso6)) != 0) f |= Csum;
        if ((f & (GuestTso4 | GuestTso6)) != 0) f |= GuestCsum;
        if ((f & (CtrlGuestOffloads | CtrlRx | CtrlVlan | CtrlMacAddr)) != 0) f |= CtrlVq;
        return f & offered;
    }

    /// <summary>Descriptors at <paramref name="at"/>, the available ring 0x100 after, the used ring 0x200 after.</summary>
    private static void SetUpQueue(FuzzedDevice d, int queue, ulong at)
    {
        d.Ram(at, 0x400).Clear();
        d.Write(Bar, QueueSelect, (ulong)queue, 2);
        d.Write(Bar, QueueSize, SanityLayout.Entries, 2);
        d.Write(Bar, QueueDesc, at, 8);
        d.Write(Bar, QueueAvail, at + 0x100, 8);
        d.Write(Bar, QueueUsed, at + 0x200, 8);
        d.Write(Bar, QueueMsix, (ulong)queue + 1, 2);
        d.Write(Bar, QueueEnable, 1, 2);
    }

    public override string? Check(FuzzedDevice d)
    {
        if ((d.Read(Bar, Status, 1) & FeaturesOk) == 0) return "the device refused VERSION_1 alone (FEATURES_OK clear)";
        Span<byte> mac = stackalloc byte[6], config = stackalloc byte[6];
        FuzzedDevice.Mac.CopyTo(mac);
        for (int i = 0; i < 6; i++) config[i] = (byte)d.Read(Bar, VirtioPciLayout.DeviceOffset + (uint)i, 1);
        if (!config.SequenceEqual(mac)) return $"the device configuration's mac reads {Convert.ToHexString(config)}, not {Convert.ToHexString(mac)}";
        var virtio = (IVirtioDevice)d.Device;

        var frame = KnownFrames.Outbound;
        d.Ram(SanityLayout.TxBuffers, HeaderLength).Clear();
        frame.CopyTo(d.Ram(SanityLayout.TxBuffers + HeaderLength, frame.Length));
        Offer(d, SanityLayout.TxRing, SanityLayout.TxBuffers, (uint)(HeaderLength + frame.Length), 0);
        d.Port!.ClearLast();
        Notify(d, virtio, 1);
        if (UsedIndex(d, SanityLayout.TxRing) != 1) return "the transmit queue's used index did not move";
        if (KnownFrames.Compare("the transmitted frame", frame, d.Port.LastFrame) is { } sent) return sent;

        Offer(d, SanityLayout.RxRing, SanityLayout.RxBuffers, SanityLayout.BufferSize, DescWrite);
        Notify(d, virtio, 0);
        d.Port.Receiver!.Receive(KnownFrames.Inbound);
        if (UsedIndex(d, SanityLayout.RxRing) != 1) return "the receive queue's used index did not move after a frame";
        uint written = BinaryPrimitives.ReadUInt32LittleEndian(d.Ram(SanityLayout.RxRing + 0x200 + 8, 4));
        if (written != HeaderLength + KnownFrames.Inbound.Length) return $"the used element says {written} bytes, not {HeaderLength + KnownFrames.Inbound.Length}";
        return KnownFrames.Compare("the received frame", KnownFrames.Inbound, d.Ram(SanityLayout.RxBuffers + HeaderLength, KnownFrames.Inbound.Length));
    }

    /// <summary>Descriptor 0 with one buffer, made available as the ring's first entry.</summary>
    private static void Offer(FuzzedDevice d, ulong ring, ulong buffer, uint length, ushort flags)
    {
        var descriptor = d.Ram(ring, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(descriptor, buffer);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor[12..], (ushort)flags);
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor[14..], 0);
        var avail = d.Ram(ring + 0x100, 6);
        BinaryPrimitives.WriteUInt16LittleEndian(avail[4..], 0);   // ring[0]: descriptor 0
        BinaryPrimitives.WriteUInt16LittleEndian(avail[2..], 1);   // idx
    }

    private static ushort UsedIndex(FuzzedDevice d, ulong ring) => BinaryPrimitives.ReadUInt16LittleEndian(d.Ram(ring + 0x200 + 2, 2));
}
