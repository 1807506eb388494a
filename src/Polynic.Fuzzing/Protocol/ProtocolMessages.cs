using System.Buffers.Binary;
using System.Text;

namespace Polynic.Fuzzing.Protocol;

/// <summary>A message the fuzzer is about to send, with the descriptors that go with it.</summary>
/// <param name="Bytes">The whole message, header included (possibly mutated).</param>
/// <param name="Fds">Descriptor kinds to attach.</param>
/// <param name="WantsReply">Whether a reply must come (a well-framed command without the no-reply flag).</param>
/// <param name="EndsSession">The message breaks the framing (its size field promises bytes that never come): the session closes after sending it.</param>
internal sealed record ProtocolMessage(byte[] Bytes, DescriptorKind[] Fds, bool WantsReply, bool EndsSession);

/// <summary>
/// Builds structure-aware vfio-user messages: each command's fields per the spec, with values
/// drawn from the edges (zero, one past a limit, wrapping sums, the largest values) as often as
/// from the plausible, and now and then a whole message mutated byte by byte.
/// </summary>
internal sealed class ProtocolMessages(FuzzRandom random)
{
    /// <summary>Guest-physical base of the windows the fuzzer maps, so device DMA often lands in one.</summary>
    public const ulong WindowBase = 0x10_0000;

    // e1000 (and alike) registers that start DMA or interrupts, so random BAR writes do real work:
    // CTRL, ICS, IMS, RCTL, TCTL, RDBAL, RDLEN, RDH, RDT, TDBAL, TDLEN, TDH, TDT; virtio and RTL8139
    // doorbells sit at small offsets of their BARs, which the small-offset choice covers.
    private static readonly ulong[] HintOffsets = [0x0, 0xC8, 0xD0, 0x100, 0x400, 0x2800, 0x2808, 0x2810, 0x2818, 0x3800, 0x3808, 0x3810, 0x3818];

    private ushort _nextId = 1;

    /// <summary>The ID the next message gets.</summary>
    public ushort NextId => _nextId;

    /// <summary>VERSION 0.0 with plausible capabilities, or (rarely) a broken one.</summary>
    public ProtocolMessage Version()
    {
        string json = random.Weighted([80, 5, 5, 5, 5]) switch
        {
            0 => "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}",
            1 => "{\"capabilities\":{\"max_msg_fds\":-1,\"max_data_xfer_size\":18446744073709551615,\"pgsizes\":0}}",
            2 => "{\"capabilities\":" + new string('[', random.Between(1, 4000)),
            3 => "{\"capabilities\":{\"migration\":{\"pgsize\":1},\"twin_socket\":{\"supported\":true},\"write_multiple\":true}}",
            _ => Encoding.Latin1.GetString(RandomBytes(random.Between(0, 300))),
        };
        var text = Encoding.UTF8.GetBytes(json);
        var payload = new byte[4 + text.Length + (random.OneIn(10) ? 0 : 1)];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)(random.OneIn(20) ? random.Below(3) : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(2), (ushort)(random.OneIn(20) ? random.Below(3) : 0));
        text.CopyTo(payload, 4);
        return Command(WireFormat.Version, payload, []);
    }

    /// <summary>Any command, weighted towards those that reach the device.</summary>
    public ProtocolMessage Any()
    {
        return random.Weighted([30, 12, 10, 6, 8, 3, 3, 3, 2, 4, 3, 3, 3]) switch
        {
            0 => RegionWrite(),
            1 => RegionRead(),
            2 => DmaMap(),
            3 => DmaUnmap(),
            4 => SetIrqs(),
            5 => Command(WireFormat.DeviceGetInfo, Fields(16, 16), []),
            6 => Command(WireFormat.DeviceGetRegionInfo, RegionInfo(), []),
            7 => Command(WireFormat.DeviceGetIrqInfo, IrqInfo(), []),
            8 => Command(WireFormat.DeviceReset, [], []),
            9 => Unexpected(),
            10 => StrayReply(),
            11 => Mutated(),
            _ => FdsWhereNoneBelong(),
        };
    }

    /// <summary>A command whose size field promises more than is sent: the session ends after it.</summary>
    public ProtocolMessage Truncated()
    {
        var whole = Any().Bytes;
        int keep = random.Below(whole.Length);
        var message = whole.AsSpan(0, keep).ToArray();
        return new ProtocolMessage(message, [], WantsReply: false, EndsSession: true);
    }

    /// <summary>A config write that turns memory, I/O and bus mastering on, so DMA can happen.</summary>
    public ProtocolMessage EnableBusMaster()
    {
        var payload = new byte[16 + 2];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), 7);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(16), 0x0007);
        return Command(WireFormat.RegionWrite, payload, []);
    }

    /// <summary>
    /// Maps a window at <see cref="WindowBase"/> (often without a descriptor, so the device's DMA
    /// becomes DMA_READ/WRITE requests to the fuzzer) and points e1000-style transmit and receive
    /// rings into it, then rings both doorbells: the device then reads descriptors the fuzzer
    /// makes up, on the socket reader's thread (transmit) and on its port's thread (receive, when
    /// another fuzzed NIC sends it a frame).
    /// </summary>
    public IEnumerable<ProtocolMessage> RingSequence()
    {
        var map = new byte[32];
        BinaryPrimitives.WriteUInt32LittleEndian(map, 32);
        BinaryPrimitives.WriteUInt32LittleEndian(map.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt64LittleEndian(map.AsSpan(16), WindowBase);
        BinaryPrimitives.WriteUInt64LittleEndian(map.AsSpan(24), HostileDescriptors.MemfdPages * 4096UL);
        DescriptorKind[] fd = random.Weighted([60, 25, 15]) switch { 0 => [], 1 => [DescriptorKind.SealedMemfd], _ => [DescriptorKind.UnsealedMemfd] };
        yield return Command(WireFormat.DmaMap, map, fd);
        yield return EnableBusMaster();
        foreach (var (offset, value) in new (ulong, uint)[]
        {
            (0x3800, (uint)WindowBase), (0x3804, 0), (0x3808, 4096), (0x3810, 0), (0x0400, 0x2),
            (0x2800, (uint)WindowBase + 0x10000), (0x2804, 0), (0x2808, 4096), (0x2810, 0), (0x0100, 0x8002),
            (0x2818, (uint)random.Between(1, 255)), (0x3818, (uint)random.Between(1, 255)),
        })
        {
            var payload = new byte[20];
            BinaryPrimitives.WriteUInt64LittleEndian(payload, offset);
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), 4);
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(16), value);
            yield return Command(WireFormat.RegionWrite, payload, []);
        }
    }

    private ProtocolMessage RegionWrite()
    {
        uint region = Region();
        uint count = Count();
        var payload = new byte[16 + (int)Math.Min(count, 8192)];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, Offset(region));
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), region);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), random.OneIn(30) ? random.NextUInt32() : count);
        var data = payload.AsSpan(16);
        if (data.Length >= 4 && random.Coin()) BinaryPrimitives.WriteUInt32LittleEndian(data, Value());
        else random.Fill(data);
        return Command(WireFormat.RegionWrite, payload, [], posted: random.Percent(40));
    }

    private ProtocolMessage RegionRead()
    {
        uint region = Region();
        var payload = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, Offset(region));
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), region);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), Count());
        return Command(WireFormat.RegionRead, payload, []);
    }

    private ProtocolMessage DmaMap()
    {
        var payload = new byte[32];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, random.OneIn(20) ? random.NextUInt32() : 32);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), random.OneIn(10) ? random.NextUInt32() : (uint)random.Between(0, 3));
        ulong pages = random.Weighted([40, 30, 20, 10]) switch
        {
            0 => 1,
            1 => (ulong)random.Between(2, HostileDescriptors.MemfdPages),
            2 => HostileDescriptors.MemfdPages + (ulong)random.Between(1, 4),
            _ => random.NextUInt64() >> random.Between(0, 52),
        };
        ulong fileOffset = random.Weighted([70, 20, 10]) switch
        {
            0 => 0,
            1 => (ulong)random.Below(HostileDescriptors.MemfdPages) * 4096,
            _ => random.NextUInt64(),
        };
        ulong address = random.Weighted([70, 20, 10]) switch
        {
            0 => WindowBase + (ulong)random.Below(64) * 4096 * HostileDescriptors.MemfdPages,
            1 => random.NextUInt64() & ~0xFFFUL,
            _ => random.NextUInt64(),
        };
        ulong size = random.OneIn(15) ? random.NextUInt64() : pages * 4096 + (random.OneIn(15) ? 1UL : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), fileOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(16), address);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(24), size);
        var fds = random.Weighted([45, 20, 20, 15]) switch
        {
            0 => [DescriptorKind.SealedMemfd],
            1 => [DescriptorKind.UnsealedMemfd],
            2 => Array.Empty<DescriptorKind>(),
            _ => [AnyKind(), .. random.Coin() ? [AnyKind()] : Array.Empty<DescriptorKind>()],
        };
        return Command(WireFormat.DmaMap, payload, fds);
    }

    private ProtocolMessage DmaUnmap()
    {
        var payload = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, random.OneIn(20) ? random.NextUInt32() : 24);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), random.Weighted([70, 20, 10]) switch { 0 => 0u, 1 => 2u, _ => random.NextUInt32() });
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), random.Coin() ? WindowBase + (ulong)random.Below(64) * 4096 * HostileDescriptors.MemfdPages : random.NextUInt64());
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(16), random.Coin() ? (ulong)random.Between(1, HostileDescriptors.MemfdPages) * 4096 : random.NextUInt64());
        return Command(WireFormat.DmaUnmap, payload, []);
    }

    private ProtocolMessage SetIrqs()
    {
        uint index = random.Percent(80) ? (uint)random.Between(0, 2) : random.NextUInt32() % 8;
        uint count = random.Weighted([50, 30, 20]) switch { 0 => 1u, 1 => (uint)random.Between(0, 8), _ => random.NextUInt32() };
        uint start = random.Percent(80) ? (uint)random.Between(0, 4) : random.NextUInt32();
        // DATA_NONE/BOOL/EVENTFD (1/2/4) with ACTION_MASK/UNMASK/TRIGGER (8/16/32), or nonsense.
        uint flags = random.Percent(85) ? (uint)(1 << random.Between(0, 2)) | (uint)(8 << random.Between(0, 2)) : random.NextUInt32();
        int boolBytes = (flags & 2) != 0 ? (int)Math.Min(count, 64) : 0;
        var payload = new byte[20 + boolBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, random.OneIn(20) ? random.NextUInt32() : (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), index);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(12), start);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(16), count);
        random.Fill(payload.AsSpan(20));
        DescriptorKind[] fds = [];
        if ((flags & 4) != 0 && random.Percent(80))
        {
            int n = random.Percent(80) ? (int)Math.Min(count, 16) : random.Between(1, 16);
            fds = new DescriptorKind[n];
            for (int i = 0; i < n; i++)
                fds[i] = random.Weighted([70, 15, 15]) switch { 0 => DescriptorKind.EventFd, 1 => DescriptorKind.FullBlockingEventFd, _ => AnyKind() };
        }
        return Command(WireFormat.DeviceSetIrqs, payload, fds);
    }

    private byte[] RegionInfo()
    {
        var payload = Fields(32, random.OneIn(10) ? random.NextUInt32() : 32);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), random.Percent(90) ? (uint)random.Between(0, 9) : random.NextUInt32());
        return payload;
    }

    private byte[] IrqInfo()
    {
        var payload = Fields(16, random.OneIn(10) ? random.NextUInt32() : 16);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), random.Percent(90) ? (uint)random.Between(0, 5) : random.NextUInt32());
        return payload;
    }

    /// <summary>A command number the server does not serve, or one only a server sends.</summary>
    private ProtocolMessage Unexpected()
    {
        ushort command = random.Pick<ushort>([0, WireFormat.DeviceGetRegionIoFds, WireFormat.DmaRead, WireFormat.DmaWrite, 14, WireFormat.RegionWriteMulti, 16, 0xFFFF]);
        return Command(command, RandomBytes(random.Between(0, 64)), []);
    }

    /// <summary>A reply to a request the server never made.</summary>
    private ProtocolMessage StrayReply()
    {
        var payload = RandomBytes(random.Between(0, 64));
        var message = new byte[WireFormat.HeaderSize + payload.Length];
        WireFormat.WriteHeader(message, (ushort)random.NextUInt32(), random.Pick<ushort>([WireFormat.DmaRead, WireFormat.DmaWrite, (ushort)random.NextUInt32()]),
            (uint)message.Length, WireFormat.TypeReply | (random.Coin() ? WireFormat.Error : 0), random.NextUInt32());
        payload.CopyTo(message.AsSpan(WireFormat.HeaderSize));
        return new ProtocolMessage(message, [], WantsReply: false, EndsSession: false);
    }

    /// <summary>A well-framed message whose other bytes are mutated; the server may reply, refuse, or disconnect.</summary>
    private ProtocolMessage Mutated()
    {
        var original = Any();
        var bytes = original.Bytes;
        if (original.EndsSession || bytes.Length <= 4) return original;
        int flips = random.Between(1, 8);
        for (int i = 0; i < flips; i++)
        {
            int at = random.Below(bytes.Length);
            if (at is >= 4 and < 8) continue; // the size field keeps the framing; Truncated covers broken framing
            bytes[at] ^= (byte)(1 << random.Below(8));
        }
        // Whether a reply comes now depends on what the flips hit; the session accepts either.
        return original with { WantsReply = false };
    }

    /// <summary>A command that takes no descriptors, sent with some.</summary>
    private ProtocolMessage FdsWhereNoneBelong()
    {
        var message = random.Coin() ? RegionRead() : Command(WireFormat.DeviceGetInfo, Fields(16, 16), []);
        return message with { Fds = [AnyKind(), .. random.Coin() ? [AnyKind()] : Array.Empty<DescriptorKind>()] };
    }

    private ProtocolMessage Command(ushort command, byte[] payload, DescriptorKind[] fds, bool posted = false)
    {
        var message = new byte[WireFormat.HeaderSize + payload.Length];
        WireFormat.WriteHeader(message, _nextId++, command, (uint)message.Length, WireFormat.TypeCommand | (posted ? WireFormat.NoReply : 0));
        payload.CopyTo(message.AsSpan(WireFormat.HeaderSize));
        return new ProtocolMessage(message, fds, WantsReply: !posted, EndsSession: false);
    }

    private uint Region() => random.Weighted([40, 10, 10, 5, 20, 15]) switch
    {
        0 => 0,
        1 => (uint)random.Between(1, 5),
        2 => 7, // config space
        3 => (uint)random.Between(6, 9),
        4 => 0,
        _ => random.Percent(50) ? 7u : random.NextUInt32(),
    };

    private ulong Offset(uint region) => random.Weighted([35, 30, 15, 10, 10]) switch
    {
        0 => random.Pick<ulong>(HintOffsets),
        1 => (ulong)random.Below(0x100) & ~3UL,
        2 => (ulong)random.Below(region == 7 ? 0x1000 : 0x20000),
        3 => (ulong)random.Pick<long>([0xFF, 0x100, 0xFFF, 0x1000, 0x1FFFC, 0x20000, 0xFFFF_FFFF]),
        _ => random.NextUInt64(),
    };

    private uint Count() => random.Weighted([80, 10, 5, 5]) switch
    {
        0 => random.Pick<uint>([1, 2, 4, 4, 4, 8]),
        1 => (uint)random.Between(0, 256),
        2 => (uint)random.Pick<int>([4096, 65536, 1 << 20, (1 << 20) + 1]),
        _ => random.NextUInt32(),
    };

    private uint Value() => random.Weighted([30, 30, 20, 20]) switch
    {
        0 => (uint)(WindowBase + (ulong)random.Below(HostileDescriptors.MemfdPages * 4096)),
        1 => (uint)random.Below(256),
        2 => 0xFFFF_FFFF >> random.Below(32),
        _ => random.NextUInt32(),
    };

    private DescriptorKind AnyKind() => (DescriptorKind)random.Below(Enum.GetValues<DescriptorKind>().Length);

    private byte[] Fields(int size, uint argsz)
    {
        var payload = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, argsz);
        return payload;
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.Fill(bytes);
        return bytes;
    }
}
