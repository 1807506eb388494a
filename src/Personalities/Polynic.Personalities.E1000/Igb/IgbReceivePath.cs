using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Dma;
using Polynic.Core.Nic.Filtering;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// The 82576's receive side (datasheet 7.1): RCTL's filters through the core's receive filter,
/// length limits (RLPML with RCTL.LPE), VLAN stripping (CTRL.VME), checksum checks, a queue chosen
/// by RSS (<see cref="IgbRss"/>) or queue 0, and the frame written into that queue's advanced
/// one-buffer descriptors (SRRCTL.DESCTYPE = 1; datasheet 7.1.5), DD on each, EOP on the last.
/// </summary>
/// <remarks>
/// A frame is written whole or not at all. A queue that is disabled (RXDCTL.ENABLE clear) or has no
/// room drops it (RNBC, MPC, the queue's RQDPC), after the NIC core's backpressure wait
/// (<see cref="HasRoomFor"/>). Every ring index and buffer address is the guest's: indices beyond
/// the ring and unreadable descriptors are counted faults, loops are bounded by the ring size. The
/// frame path allocates nothing.
/// </remarks>
internal sealed class IgbReceivePath
{
    /// <summary>Longest frame accepted with RCTL.LPE, FCS included (RLPML is 14 bits; 16 KiB buffer here).</summary>
    public const int MaxLongFrame = 16 * 1024;

    private const int MaxStandardFrame = 1514;
    private const int MinFrame = 60;
    private const int FcsLength = 4;
    private const int TagLength = 4;
    private const int DescriptorSize = 16;

#pragma warning disable CS1591
    public const uint StatusDd = 1u << 0;
    public const uint StatusEop = 1u << 1;
    public const uint StatusVp = 1u << 3;
    public const uint ErrorRxe = 1u << 31;
#pragma warning restore CS1591

    private readonly IgbDevice _device;
    private readonly DescriptorRing[] _rings = new DescriptorRing[QueueCount];
    private readonly byte[] _buffer = new byte[MaxLongFrame + FcsLength];
    private readonly byte[] _descriptor = new byte[DescriptorSize];
    private readonly byte[] _writeBack = new byte[DescriptorSize];

    public IgbReceivePath(IgbDevice device)
    {
        _device = device;
        for (int i = 0; i < _rings.Length; i++) _rings[i] = new DescriptorRing(DescriptorSize);
    }

    public void Reset()
    {
        foreach (var ring in _rings) ring.Reset();
    }

    /// <summary>
    /// Whether a frame of <paramref name="length"/> bytes would find descriptors on every enabled
    /// queue (which one RSS picks is known only from the frame). True when it would be dropped
    /// anyway (receiver off, loopback): only a lack of guest buffers is worth waiting for.
    /// </summary>
    public bool HasRoomFor(int length)
    {
        var regs = _device.Registers;
        if ((regs.Get(Rctl) & RctlEn) == 0 || _device.LoopbackActive) return true;
        for (int q = 0; q < QueueCount; q++)
        {
            if ((regs.Get(RxQueue(q, QDctl)) & QueueEnable) == 0) continue;
            if (!SyncRing(q, out uint available, fault: false)) continue;
            if (available * (long)BufferSize(q) < length + FcsLength) return false;
        }
        return true;
    }

    /// <summary>A frame from the port. While looping back, the MAC is isolated from the wire and drops it.</summary>
    public void FromWire(ReadOnlySpan<byte> frame)
    {
        if (_device.LoopbackActive)
        {
            _device.Counters.RxDisabled++;
            return;
        }
        Receive(frame);
    }

    /// <summary>A frame this MAC transmitted in PHY or MAC loopback.</summary>
    public void FromLoopback(ReadOnlySpan<byte> frame) => Receive(frame);

    private void Receive(ReadOnlySpan<byte> frame)
    {
        var regs = _device.Registers;
        var counters = _device.Counters;
        var stats = _device.Statistics;
        uint rctl = regs.Get(Rctl);
        if ((rctl & RctlEn) == 0)
        {
            counters.RxDisabled++;
            return;
        }
        stats.CountArrived(Math.Max(frame.Length, MinFrame) + FcsLength);
        if (frame.Length < 14)
        {
            counters.RxTooShort++;
            stats.Increment(Statistics.Ruc);
            return;
        }
        ushort vet = (ushort)regs.Get(Vet);
        bool tagged = frame.Length >= 16 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == vet;
        if (frame.Length > MaxLength(rctl, regs.Get(Rlpml), tagged))
        {
            counters.RxTooLong++;
            stats.Increment(Statistics.Roc);
            return;
        }
        var verdict = _device.Filter.Accept(frame);
        if (!verdict.IsAccepted())
        {
            counters.CountRejected(verdict);
            return;
        }

        int queue = _device.Rss.SelectQueue(frame, out uint hash, out uint hashType);
        uint status = StatusDd;
        ushort vlan = 0;
        int length;
        if (tagged && (regs.Get(Ctrl) & CtrlVme) != 0)
        {
            // Strip the tag into the descriptor's VLAN field (datasheet 7.4.x): addresses, then the rest.
            vlan = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
            status |= StatusVp;
            frame[..12].CopyTo(_buffer);
            frame[16..].CopyTo(_buffer.AsSpan(12));
            length = frame.Length - TagLength;
        }
        else
        {
            frame.CopyTo(_buffer);
            length = frame.Length;
        }
        var (checksumStatus, checksumErrors) = ReceiveChecksum.Check(_buffer.AsSpan(0, length), regs.Get(Rxcsum));
        status |= checksumStatus;
        // Legacy error byte 31:24 is where the advanced write-back keeps IPE (30), L4E (29), RXE (31).
        uint errors = (uint)checksumErrors << 24;
        if (length < MinFrame)
        {
            _buffer.AsSpan(length, MinFrame - length).Clear();
            length = MinFrame;
        }
        int wireLength = length + FcsLength;
        if ((rctl & RctlSecrc) == 0)
        {
            // The port does not keep the FCS: 4 zero bytes stand where it would be.
            _buffer.AsSpan(length, FcsLength).Clear();
            length += FcsLength;
        }

        var outcome = Deliver(queue, _buffer.AsSpan(0, length), status, errors, vlan, hash, hashType);
        if (outcome == Outcome.NoDescriptors)
        {
            counters.RxNoBuffer++;
            stats.Increment(Statistics.Rnbc);
            stats.Increment(Statistics.Mpc);
            uint dropped = regs.Get(RxQueue(queue, QRqdpc));
            if (dropped != uint.MaxValue) regs.Set(RxQueue(queue, QRqdpc), dropped + 1);
            return;
        }
        if (outcome == Outcome.Failed) return;
        counters.CountDelivered(frame);
        stats.CountDelivered(frame, wireLength);
        _device.Interrupts.ReceiveWrittenBack(queue);
    }

    private enum Outcome { Delivered, NoDescriptors, Failed }

    /// <summary>Writes <paramref name="data"/> into queue <paramref name="queue"/>'s descriptors, whole or not at all.</summary>
    private Outcome Deliver(int queue, ReadOnlySpan<byte> data, uint status, uint errors, ushort vlan, uint hash, uint hashType)
    {
        var regs = _device.Registers;
        if ((regs.Get(RxQueue(queue, QDctl)) & QueueEnable) == 0) return Outcome.NoDescriptors;
        int bufferSize = BufferSize(queue);
        if (!SyncRing(queue, out uint available, fault: true) || available * (long)bufferSize < data.Length) return Outcome.NoDescriptors;
        var ring = _rings[queue];
        var dma = _device.Dma;
        int offset = 0;
        var budget = ring.BeginPass();
        // Bounded by the ring size and by the available-descriptor check above.
        while (offset < data.Length && budget.TryTake())
        {
            int piece = Math.Min(bufferSize, data.Length - offset);
            bool last = offset + piece == data.Length;
            if (!ring.TryReadHead(dma, _descriptor))
            {
                Fault("receive descriptor outside guest memory", ring.Base.Value + (ulong)ring.Head * DescriptorSize);
                regs.Set(RxQueue(queue, QHead), ring.Head);
                return Outcome.Failed;
            }
            // Read format (datasheet 7.1.5.1): packet buffer address, header buffer address (unused with one buffer).
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(_descriptor);
            uint pieceErrors = last ? errors : 0;
            if (address == 0 || !dma.TryWrite(new GuestAddress(address), data.Slice(offset, piece)))
            {
                _device.Counters.DmaFaults++;
                _device.Faults.Warn(_device.Log, "receive buffer outside guest memory", address);
                pieceErrors |= ErrorRxe;
            }
            WriteBack(_writeBack, piece, status | (last ? StatusEop : 0) | pieceErrors, vlan, hash, hashType);
            if (!ring.TryWriteHead(dma, _writeBack)) Fault("receive descriptor write-back failed", ring.Base.Value + (ulong)ring.Head * DescriptorSize);
            regs.Set(RxQueue(queue, QHead), ring.Advance());
            offset += piece;
        }
        return Outcome.Delivered;
    }

    /// <summary>
    /// Advanced one-buffer write-back (datasheet 7.1.5.2): RSS type 3:0 (packet type 0: not
    /// reported), RSS hash, extended status/errors, length, VLAN tag.
    /// </summary>
    private static void WriteBack(Span<byte> writeBack, int length, uint statusError, ushort vlan, uint hash, uint hashType)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(writeBack, hashType & 0xF);
        BinaryPrimitives.WriteUInt32LittleEndian(writeBack[4..], hash);
        BinaryPrimitives.WriteUInt32LittleEndian(writeBack[8..], statusError);
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[12..], (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[14..], vlan);
    }

    /// <summary>SRRCTL.BSIZEPACKET in KiB; 0 falls back to RCTL.BSIZE (datasheet 8.10.2).</summary>
    private int BufferSize(int queue)
    {
        uint kib = _device.Registers.Get(RxQueue(queue, QSrrctl)) & SrrctlBsizePacketMask;
        if (kib != 0) return (int)kib * 1024;
        uint rctl = _device.Registers.Get(Rctl);
        return ((rctl >> RctlBsizeShift) & 3) switch { 1 => 1024, 2 => 512, 3 => 256, _ => 2048 };
    }

    private static int MaxLength(uint rctl, uint rlpml, bool tagged)
    {
        if ((rctl & (RctlLpe | RctlSbp)) != 0)
        {
            // RLPML counts the FCS (Linux writes max_frame_size, FCS included).
            int limit = (int)(rlpml & 0x3FFF);
            return (limit >= 64 ? Math.Min(limit, MaxLongFrame) : MaxLongFrame) - FcsLength;
        }
        return MaxStandardFrame + (tagged ? TagLength : 0);
    }

    private bool SyncRing(int queue, out uint available, bool fault)
    {
        available = 0;
        var regs = _device.Registers;
        var ring = _rings[queue];
        ring.Configure(new GuestAddress((ulong)regs.Get(RxQueue(queue, QBah)) << 32 | regs.Get(RxQueue(queue, QBal))), regs.Get(RxQueue(queue, QLen)));
        uint head = regs.Get(RxQueue(queue, QHead)), tail = regs.Get(RxQueue(queue, QTail)), count = ring.Count;
        if (count == 0) return false;
        if (head >= count || tail >= count)
        {
            if (fault) Fault("receive head or tail beyond the ring", (ulong)head << 32 | tail);
            return false;
        }
        ring.SetHead(head);
        ring.SetTail(tail);
        available = ring.Pending;
        return true;
    }

    private void Fault(string what, ulong detail)
    {
        _device.Counters.DescriptorFaults++;
        _device.Faults.Warn(_device.Log, what, detail);
    }
}
