using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Virtio;

namespace Polynic.Personalities.VirtioNet;

/// <summary>
/// The control queue (virtio 1.2, 5.1.6.5): class, command and data readable, one ack byte
/// writable. RX mode (promiscuous, all-multicast), the MAC filter table and station address, the
/// VLAN filter and the number of active queue pairs.
/// </summary>
internal sealed class ControlPath(VirtioNetDevice device)
{
    private const byte Ok = 0, Err = 1;
    private const byte ClassRx = 0, ClassMac = 1, ClassVlan = 2, ClassMq = 4, ClassGuestOffloads = 5;

    /// <summary>Longest command accepted: a full MAC table of both kinds and then some.</summary>
    private const int MaxCommand = 4096;

    private readonly byte[] _command = new byte[MaxCommand];

    /// <summary>Commands answered VIRTIO_NET_ERR.</summary>
    public long Refused { get; private set; }

    /// <summary>Answers every command the driver queued, then settles the queue (<see cref="VirtioNetDevice.Settle"/>).</summary>
    public void Process()
    {
        var queue = device.ControlQueue;
        Drain(queue);
        device.Settle(queue, Drain, "control queue");
    }

    /// <summary>Answers the commands available now (at most a queue's worth); returns how many chains it took.</summary>
    private int Drain(SplitVirtqueue queue)
    {
        var memory = device.Memory;
        int popped = 0;
        for (int i = 0; i < queue.Size; i++)
        {
            var status = queue.TryPop(memory, out var chain);
            if (status is ChainStatus.Empty or ChainStatus.Broken) break;
            popped++;
            if (status == ChainStatus.Malformed || chain.WritableLength < 1 || chain.ReadableLength < 2 || chain.ReadableLength > MaxCommand)
            {
                device.Counters.DescriptorFaults++;
                device.Faults.Warn(device.Log, "malformed control command", chain.Head);
                queue.PushUsed(memory, chain.Head, 0);
                continue;
            }
            int length = chain.Gather(memory, _command);
            byte ack = length < 2 ? Err : Execute(_command[0], _command[1], _command.AsSpan(2, length - 2));
            if (ack != Ok) Refused++;
            Span<byte> reply = [ack];
            chain.Scatter(memory, 0, reply);
            queue.PushUsed(memory, chain.Head, 1);
        }
        return popped;
    }

    private byte Execute(byte @class, byte command, ReadOnlySpan<byte> data) => @class switch
    {
        ClassRx when device.Has(VirtioNetFeatures.CtrlRx) => ReceiveMode(command, data),
        ClassMac => Mac(command, data),
        ClassVlan when device.Has(VirtioNetFeatures.CtrlVlan) => Vlan(command, data),
        ClassMq when device.Has(VirtioNetFeatures.Mq) => QueuePairs(command, data),
        ClassGuestOffloads when device.Has(VirtioNetFeatures.CtrlGuestOffloads) => GuestOffloads(command, data),
        _ => Err,
    };

    private byte ReceiveMode(byte command, ReadOnlySpan<byte> data)
    {
        if (data.Length < 1) return Err;
        bool on = data[0] != 0;
        switch (command)
        {
            case 0: device.Promiscuous = on; break;
            case 1: device.AllMulticast = on; break;
            default: return Err;
        }
        device.ApplyReceiveMode();
        return Ok;
    }

    private byte Mac(byte command, ReadOnlySpan<byte> data)
    {
        if (command == 1)
        {
            if (!device.Has(VirtioNetFeatures.CtrlMacAddr) || data.Length < MacAddress.Length) return Err;
            device.SetStationAddress(new MacAddress(data));
            return Ok;
        }
        if (command != 0 || !device.Has(VirtioNetFeatures.CtrlRx)) return Err;
        // VIRTIO_NET_CTRL_MAC_TABLE_SET: two tables, unicast then multicast, each le32 count + 6-byte entries.
        if (!TryTable(data, out int unicastCount, out var unicast) || !TryTable(data[(4 + unicast.Length)..], out int multicastCount, out var multicast))
            return Err;
        var filter = device.Filter;
        int slot = 1;
        device.UnicastOverflow = unicastCount > VirtioNetDevice.MacTableEntries;
        device.MulticastOverflow = unicastCount + multicastCount > VirtioNetDevice.MacTableEntries;
        if (!device.UnicastOverflow)
            for (int i = 0; i < unicastCount; i++) filter.SetExact(slot++, new MacAddress(unicast.Slice(6 * i, 6)), true);
        if (!device.MulticastOverflow)
            for (int i = 0; i < multicastCount; i++) filter.SetExact(slot++, new MacAddress(multicast.Slice(6 * i, 6)), true);
        for (; slot < filter.ExactEntries; slot++) filter.SetExact(slot, MacAddress.Zero, false);
        device.ApplyReceiveMode();
        return Ok;
    }

    private static bool TryTable(ReadOnlySpan<byte> data, out int count, out ReadOnlySpan<byte> entries)
    {
        count = 0;
        entries = default;
        if (data.Length < 4) return false;
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (n > (uint)(data.Length - 4) / 6) return false;
        count = (int)n;
        entries = data.Slice(4, 6 * count);
        return true;
    }

    private byte Vlan(byte command, ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 || command > 1) return Err;
        int vid = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (vid >= 4096) return Err;
        device.Filter.SetVlan(vid, command == 0);
        return Ok;
    }

    /// <summary>
    /// VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (5.1.6.5.6.1): le64 of receive offload feature bits; the
    /// driver may not turn on one that was not negotiated (5.1.6.5.6.2), so such a request is refused.
    /// </summary>
    private byte GuestOffloads(byte command, ReadOnlySpan<byte> data)
    {
        if (command != 0 || data.Length < 8) return Err;
        ulong offloads = BinaryPrimitives.ReadUInt64LittleEndian(data);
        ulong negotiated = device.Transport.NegotiatedFeatures;
        if ((offloads & ~negotiated) != 0) return Err;
        // Offload bits the device does not implement (GUEST_ECN, GUEST_UFO, ...) cannot be on: they were not offered.
        device.GuestOffloads = offloads & VirtioNetFeatures.GuestOffloads;
        return Ok;
    }

    private byte QueuePairs(byte command, ReadOnlySpan<byte> data)
    {
        if (command != 0 || data.Length < 2) return Err;
        int pairs = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (pairs < 1 || pairs > device.MaxQueuePairs) return Err;
        device.ActiveQueuePairs = pairs;
        return Ok;
    }
}
