using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Tests.Virtio;
using Polynic.Core.Virtio;
using Polynic.Ports.Loopback;
using Polynic.TestMachine;

namespace Polynic.Personalities.VirtioNet.Tests.Support;

/// <summary>
/// One virtio-net in an in-process machine cabled to a <see cref="PortPair"/> (or any port), with
/// the driver steps virtio_pci_modern + virtio_net take: reset, features, queues, DRIVER_OK.
/// </summary>
public sealed class VirtioNetRig : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.FromUInt64(0x52_54_00_12_34_56);
    public static readonly MacAddress Peer = MacAddress.FromUInt64(0x02_00_00_00_00_02);
    public const ushort RingSize = 64;
    public const ulong Buffers = 0x40_0000;

    private readonly List<GuestRing> _rings = [];

    public VirtioNetRig(int queuePairs = 1, PortCapabilities wire = PortCapabilities.None, IPort? port = null)
    {
        Machine = new Machine(ramSize: 16 << 20);
        Nic = new VirtioNetDevice(new NicSettings(Mac), queuePairs);
        Slot = Machine.Plug(Nic, $"virtio-{Guid.NewGuid():N}");
        Machine.Enumerate(Slot);
        if (port is null)
        {
            Pair = new PortPair(new PortPairOptions { CapabilitiesA = wire, QueueCapacity = 4096 });
            Pair.B.Start(Wire);
            port = Pair.A;
        }
        Nic.AttachPort(port);
        for (int q = 0; q < 2 * queuePairs + 1; q++)
        {
            ulong at = 0x1_0000 + (ulong)q * 0x1_0000;
            _rings.Add(new GuestRing(Machine.Ram, at, at + 0x4000, at + 0x8000, RingSize));
        }
    }

    public Machine Machine { get; }
    public VirtioNetDevice Nic { get; }
    public int Slot { get; }
    public PortPair? Pair { get; }
    public Recorder Wire { get; } = new();
    public InterruptLog Interrupts => Machine.Interrupts(Slot);
    public GuestRing Ring(int queue) => _rings[queue];
    public GuestRing Rx(int pair = 0) => _rings[2 * pair];
    public GuestRing Tx(int pair = 0) => _rings[2 * pair + 1];
    public GuestRing Ctrl => _rings[^1];
    public Span<byte> Ram(ulong address, int length) => Machine.Ram.Span(address, length);

    public uint Read(uint offset, int width = 4)
    {
        Span<byte> b = stackalloc byte[4];
        b.Clear();
        Machine.Function(Slot).ReadBar(0, offset, b[..width]);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void Write(uint offset, uint value, int width = 4)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Machine.Function(Slot).WriteBar(0, offset, b[..width]);
    }

    public ulong OfferedFeatures()
    {
        Write(0x00, 0);
        ulong low = Read(0x04);
        Write(0x00, 1);
        return low | (ulong)Read(0x04) << 32;
    }

    /// <summary>Reset, ACK, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write(0x14, 0, 1);
        Write(0x14, 1, 1);
        Write(0x14, 3, 1);
        Write(0x08, 0);
        Write(0x0C, (uint)features);
        Write(0x08, 1);
        Write(0x0C, (uint)(features >> 32));
        Write(0x14, 11, 1);
        return (Read(0x14, 1) & 8) != 0;
    }

    /// <summary>The whole virtio_net probe: negotiate, set up every queue with RingSize entries, DRIVER_OK.</summary>
    public void Start(ulong features)
    {
        Assert.True(Negotiate(features));
        int queues = (int)Read(0x12, 2);
        for (int q = 0; q < queues; q++)
        {
            var ring = _rings[q];
            ring.Clear();
            Write(0x16, (uint)q, 2);
            Write(0x18, RingSize, 2);
            Write(0x1A, (uint)(q + 1), 2);
            WriteAddress(0x20, ring.Descriptors);
            WriteAddress(0x28, ring.Avail);
            WriteAddress(0x30, ring.Used);
            Write(0x1C, 1, 2);
        }
        Write(0x10, 0, 2);
        Write(0x14, 15, 1);
    }

    public void WriteAddress(uint offset, ulong value)
    {
        Write(offset, (uint)value);
        Write(offset + 4, (uint)(value >> 32));
    }

    /// <summary>Notifies <paramref name="queue"/> and waits until the device's queue worker has processed it.</summary>
    public void Kick(int queue)
    {
        Write(VirtioPciLayout.NotifyOffset + (uint)queue * VirtioPciLayout.NotifyMultiplier, (uint)queue, 2);
        Assert.True(Nic.WaitForQueues(TimeSpan.FromSeconds(10)), "the queue worker did not finish");
    }

    /// <summary>Enables MSI-X in config space (vectors unmasked in the table).</summary>
    public void EnableMsix()
    {
        uint at = Machine.ConfigRead(Slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (Machine.ConfigRead(Slot, (int)at, 1) == 0x11)
            {
                Machine.ConfigWrite(Slot, (int)at + 2, 0x8000, 2);
                // Unmask every vector (the test machine, unlike QEMU, leaves the table to the core).
                Span<byte> zero = stackalloc byte[4];
                zero.Clear();
                int vectors = (int)(Machine.ConfigRead(Slot, (int)at + 2, 2) & 0x7FF) + 1;
                for (int v = 0; v < vectors; v++) Machine.Function(Slot).WriteBar(1, (ulong)v * 16 + 12, zero);
                return;
            }
            at = Machine.ConfigRead(Slot, (int)at + 1, 1);
        }
        throw new InvalidOperationException("no MSI-X capability");
    }

    /// <summary>Transmits header + frame from one buffer on pair 0 and kicks.</summary>
    public void Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame, int pair = 0, ulong at = Buffers)
    {
        header.CopyTo(Ram(at, header.Length));
        frame.CopyTo(Ram(at + (ulong)header.Length, frame.Length));
        Tx(pair).Add((at, (uint)(header.Length + frame.Length), false));
        Kick(2 * pair + 1);
    }

    public static byte[] Header(byte flags = 0, byte gso = 0, ushort hdrLen = 0, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0)
    {
        var h = new byte[12];
        h[0] = flags;
        h[1] = gso;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), csumOffset);
        return h;
    }

    /// <summary>Posts <paramref name="count"/> receive buffers of <paramref name="size"/> bytes on pair <paramref name="pair"/>.</summary>
    public void PostRx(int count, uint size, int pair = 0, ulong at = 0x80_0000)
    {
        for (int i = 0; i < count; i++) Rx(pair).Add((at + (ulong)i * 0x1_0000, size, true));
        Kick(2 * pair);
    }

    /// <summary>Sends a control command and returns the ack byte.</summary>
    public byte Control(byte @class, byte command, ReadOnlySpan<byte> data)
    {
        const ulong at = 0x30_0000;
        Ram(at, 2)[0] = @class;
        Ram(at, 2)[1] = command;
        data.CopyTo(Ram(at + 2, data.Length));
        Ram(at + 0x1000, 1)[0] = 0xEE;
        Ctrl.Add((at, (uint)(2 + data.Length), false), (at + 0x1000, 1, true));
        Kick(Nic.Transport.Queues.Count - 1);
        return Ram(at + 0x1000, 1)[0];
    }

    public void Dispose()
    {
        Nic.Dispose();
        Pair?.Dispose();
    }
}

public sealed class Recorder : IPortReceiver
{
    private readonly List<byte[]> _frames = [];
    public IReadOnlyList<byte[]> Frames { get { lock (_frames) return _frames.ToArray(); } }
    public void Receive(ReadOnlySpan<byte> frame) { lock (_frames) _frames.Add(frame.ToArray()); }
    public void LinkChanged(bool up) { }
}

/// <summary>A port that records what it was asked to send, offloads included.</summary>
public sealed class OffloadRecordingPort(PortCapabilities capabilities) : IPort
{
    public List<(byte[] Frame, FrameOffload? Offload)> Sent { get; } = [];
    public IPortReceiver? Receiver { get; private set; }
    public string Name => "recording";
    public bool LinkUp => true;
    public PortCapabilities Capabilities => capabilities;
    public void Start(IPortReceiver receiver) => Receiver = receiver;
    public bool Send(ReadOnlySpan<byte> frame) { Sent.Add((frame.ToArray(), null)); return true; }
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) { Sent.Add((frame.ToArray(), offload)); return true; }
    public void Dispose() { }
}
