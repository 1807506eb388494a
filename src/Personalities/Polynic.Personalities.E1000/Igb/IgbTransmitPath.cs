using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Dma;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// The 82576's transmit queues (datasheet 7.2): each enabled queue (TXDCTL.ENABLE, TCTL.EN) walks
/// its ring from TDH to TDT when the driver writes TDT, gathers a packet's data descriptors up to
/// EOP, and hands the packet with what its context asked for (TSO, TCP/UDP checksum, IPv4 header
/// checksum, VLAN tag) to the NIC core's egress as one <see cref="FrameOffload"/>. A descriptor with
/// RS gets DD written back; TXDW and the queue's EICR bit follow.
/// </summary>
/// <remarks>
/// A pass is bounded by the ring size; a packet by 64 KiB. Each queue's gather buffer is allocated
/// the first time the queue sends (at most 16, never per frame). Guest mistakes (descriptors or
/// buffers outside RAM, indices beyond the ring, reserved types) are counted faults.
/// </remarks>
internal sealed class IgbTransmitPath
{
    private const int MaxPacket = 64 * 1024;
    private const int Headroom = 4;   // room to insert a VLAN tag in front of the gathered packet
    private const int MacAddressesLength = 12;

    /// <summary>TCTL.PSP pads to 64 bytes with the FCS.</summary>
    public const int MinFrame = 60;

    private readonly IgbDevice _device;
    private readonly Queue[] _queues = new Queue[QueueCount];

    public IgbTransmitPath(IgbDevice device)
    {
        _device = device;
        for (int i = 0; i < _queues.Length; i++) _queues[i] = new Queue();
    }

    public void Reset()
    {
        foreach (var q in _queues) q.Reset();
    }

    /// <summary>TCTL.EN was set: every queue with work starts.</summary>
    public void KickAll()
    {
        for (int q = 0; q < QueueCount; q++) Kick(q);
    }

    /// <summary>The driver moved TDT of queue <paramref name="queue"/> (or enabled it): process what it handed over.</summary>
    public void Kick(int queue)
    {
        var regs = _device.Registers;
        if ((regs.Get(Tctl) & TctlEn) == 0 || (regs.Get(TxQueue(queue, QDctl)) & QueueEnable) == 0) return;
        var q = _queues[queue];
        if (!SyncRing(queue, q.Ring)) return;
        var dma = _device.Dma;
        Span<byte> raw = stackalloc byte[IgbTransmitDescriptor.Size];
        var budget = q.Ring.BeginPass();
        bool wroteBack = false;
        while (!q.Ring.IsEmpty && budget.TryTake())
        {
            if (!q.Ring.TryReadHead(dma, raw))
            {
                Fault("transmit descriptor outside guest memory", q.Ring.Base.Value + (ulong)q.Ring.Head * IgbTransmitDescriptor.Size);
                if (q.InPacket) q.Discard = true;
            }
            else
            {
                var d = new IgbTransmitDescriptor(raw);
                Process(q, d);
                if (d.ReportStatus && !d.IsContext) wroteBack |= WriteBack(q.Ring, d);
            }
            regs.Set(TxQueue(queue, QHead), q.Ring.Advance());
        }
        if (wroteBack) _device.Interrupts.TransmitWrittenBack(queue);
    }

    private bool SyncRing(int queue, DescriptorRing ring)
    {
        var regs = _device.Registers;
        ring.Configure(new GuestAddress((ulong)regs.Get(TxQueue(queue, QBah)) << 32 | regs.Get(TxQueue(queue, QBal))), regs.Get(TxQueue(queue, QLen)));
        uint head = regs.Get(TxQueue(queue, QHead)), tail = regs.Get(TxQueue(queue, QTail)), count = ring.Count;
        if (count == 0)
        {
            if (tail != head) Fault("transmit ring length is 0", tail);
            return false;
        }
        if (head >= count || tail >= count)
        {
            Fault("transmit head or tail beyond the ring", (ulong)head << 32 | tail);
            return false;
        }
        ring.SetHead(head);
        ring.SetTail(tail);
        return true;
    }

    private void Process(Queue q, in IgbTransmitDescriptor d)
    {
        if (d.IsContext)
        {
            q.Contexts[(int)(d.Upper >> 4) & 1] = IgbTransmitContext.From(d);
            return;
        }
        if (d.IsAdvanced && !d.IsData)
        {
            // DTYP values other than 2 and 3 are reserved: skip the descriptor, keep the packet.
            Fault("reserved transmit descriptor type", d.CommandTypeLength);
            return;
        }
        if (!q.InPacket)
        {
            // Offload requests are taken from the packet's first descriptor (datasheet 7.2.2.3).
            q.InPacket = true;
            q.Discard = false;
            q.Length = 0;
            q.First = d;
        }
        Gather(q, d);
        if (!d.EndOfPacket) return;
        q.InPacket = false;
        if (q.Discard)
        {
            _device.Counters.TxErrors++;
            return;
        }
        if (q.Length == 0) return;
        Send(q);
    }

    private void Gather(Queue q, in IgbTransmitDescriptor d)
    {
        int length = d.Length;
        if (length == 0 || q.Discard) return;
        if (length > MaxPacket - q.Length)
        {
            _device.Faults.Warn(_device.Log, "transmit packet longer than 64 KiB", (ulong)q.Length + (ulong)length);
            q.Discard = true;
            return;
        }
        q.Buffer ??= new byte[Headroom + MaxPacket];
        if (!_device.Dma.TryRead(new GuestAddress(d.Address), q.Buffer.AsSpan(Headroom + q.Length, length)))
        {
            _device.Counters.DmaFaults++;
            _device.Faults.Warn(_device.Log, "transmit buffer outside guest memory", d.Address);
            q.Discard = true;
            return;
        }
        q.Length += length;
    }

    /// <summary>Finishes the gathered packet (checksums the core cannot express, VLAN tag) and hands it to the core's egress.</summary>
    private void Send(Queue q)
    {
        var first = q.First;
        var buffer = q.Buffer!;
        var packet = buffer.AsSpan(Headroom, q.Length);
        var offload = default(FrameOffload);
        ushort vlan = 0;
        bool tag = first.InsertVlan;
        if (first.IsData)
        {
            var context = q.Contexts[first.ContextIndex];
            vlan = context.Vlan;
            if (first.Segment)
            {
                if (context.L4Length == 0 || context.Mss == 0 || context.L4Type is not (IgbTransmitContext.L4Tcp or IgbTransmitContext.L4Udp))
                {
                    _device.Counters.TxErrors++;
                    _device.Statistics.Increment(Statistics.Tsctfc);
                    _device.Faults.Warn(_device.Log, "TSO packet without L4LEN, MSS or a TCP/UDP type", (ulong)context.Mss << 8 | (uint)context.L4Length);
                    return;
                }
                var type = context.L4Type == IgbTransmitContext.L4Udp ? GsoType.UdpL4 : context.IPv4 ? GsoType.TcpV4 : GsoType.TcpV6;
                offload = new FrameOffload(true, 0, 0, type, (ushort)context.HeaderLength, context.Mss);
            }
            else
            {
                if ((first.Upper & IgbTransmitDescriptor.OlinfoIxsm) != 0 && context.IPv4)
                    Insert(packet, context.MacLength, context.MacLength + 10, context.L4Start - 1);
                if ((first.Upper & IgbTransmitDescriptor.OlinfoTxsm) != 0)
                {
                    // Linux igb_tx_csum leaves the pseudo-header sum in the field: a partial checksum from the L4 header.
                    int field = context.L4Type switch { IgbTransmitContext.L4Tcp => 16, IgbTransmitContext.L4Udp => 6, _ => -1 };
                    if (field < 0) Fault("transmit checksum for an L4 type not modelled (SCTP)", (ulong)context.L4Type);
                    else offload = new FrameOffload(true, (ushort)context.L4Start, (ushort)field, GsoType.None, 0, 0);
                }
            }
        }
        else
        {
            vlan = first.LegacyVlan;
            if ((first.CommandTypeLength & IgbTransmitDescriptor.CmdIc) != 0)
                Insert(packet, first.LegacyChecksumStart, first.LegacyChecksumOffset, 0);
        }

        Span<byte> frame = packet;
        if (tag && q.Length >= MacAddressesLength)
        {
            // VET + tag after the source address (datasheet 7.2.4): the addresses move into the headroom.
            frame = buffer.AsSpan(Headroom - 4, q.Length + 4);
            buffer.AsSpan(Headroom, MacAddressesLength).CopyTo(frame);
            BinaryPrimitives.WriteUInt16BigEndian(frame[MacAddressesLength..], (ushort)_device.Registers.Get(Vet));
            BinaryPrimitives.WriteUInt16BigEndian(frame[(MacAddressesLength + 2)..], vlan);
            if (offload.GsoType != GsoType.None) offload = offload with { HeaderLength = (ushort)(offload.HeaderLength + 4) };
            else if (offload.NeedsChecksum) offload = offload with { ChecksumStart = (ushort)(offload.ChecksumStart + 4) };
        }
        var result = _device.Send(frame, offload);
        if (offload.GsoType != GsoType.None)
            _device.Statistics.Increment(result == TransmitResult.Refused ? Statistics.Tsctfc : Statistics.Tsctc);
    }

    private void Insert(Span<byte> packet, int start, int offset, int end)
    {
        if (!ChecksumOffload.TryInsert(packet, start, offset, end))
        {
            // The frame still goes out, with whatever the driver put in the field (as hardware would).
            _device.Counters.TxErrors++;
            _device.Faults.Warn(_device.Log, "transmit checksum fields outside the packet", (ulong)start << 32 | (uint)offset);
        }
    }

    /// <summary>DD in the status nibble of dword 3, the rest as the driver wrote it.</summary>
    private bool WriteBack(DescriptorRing ring, in IgbTransmitDescriptor d)
    {
        Span<byte> upper = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(upper, (d.Upper & ~IgbTransmitDescriptor.StatusMask) | IgbTransmitDescriptor.StatusDd);
        if (ring.TryGetAddress(ring.Head, out var at) && at.TryAdd(12, out var status) && _device.Dma.TryWrite(status, upper))
            return true;
        Fault("transmit descriptor write-back failed", at.Value);
        return false;
    }

    private void Fault(string what, ulong detail)
    {
        _device.Counters.DescriptorFaults++;
        _device.Faults.Warn(_device.Log, what, detail);
    }

    /// <summary>One transmit queue's state between doorbells.</summary>
    private sealed class Queue
    {
        public DescriptorRing Ring { get; } = new(IgbTransmitDescriptor.Size);
        public IgbTransmitContext[] Contexts { get; } = new IgbTransmitContext[2];
        public byte[]? Buffer;
        public int Length;
        public bool InPacket, Discard;
        public IgbTransmitDescriptor First;

        public void Reset()
        {
            Ring.Reset();
            Array.Clear(Contexts);
            Length = 0;
            InPacket = Discard = false;
        }
    }
}
