using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Dma;
using Polynic.Core.Nic.Filtering;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The receive DMA engine (8254x SDM 3.2): takes a frame from the wire or from loopback, applies
/// RCTL (enable, length limits, filters through the core's <see cref="ReceiveFilter"/>),
/// strips the VLAN tag when CTRL.VME is set, checks checksums (<see cref="ReceiveChecksum"/>), and
/// writes the frame into as many descriptors as its length needs, DD last, EOP on the last one.
/// </summary>
/// <remarks>
/// Descriptors are available from RDH up to, not including, RDT; RDH == RDT means none. A frame
/// that does not fit in the available descriptors waits in the receive packet buffer
/// (<see cref="FrameFifo"/>, sized by PBA, 48 KiB by default) and counts in RNBC; it goes to
/// the guest, in order, when the driver moves RDT. When the packet buffer is full too, the frame
/// is missed (MPC, ICR.RXO). A frame is never written in part. Indices beyond the ring count as
/// "no descriptors"; unreadable descriptors are counted and drop the frame. The frame path
/// allocates nothing: one preallocated buffer holds the frame as delivered.
/// </remarks>
internal sealed partial class ReceivePath
{
    /// <summary>Longest frame accepted with RCTL.LPE, FCS included (82540: 16 KiB).</summary>
    public const int MaxLongFrame = 16 * 1024;

    /// <summary>Longest untagged frame without LPE, FCS excluded (1518 with FCS).</summary>
    public const int MaxStandardFrame = 1514;

    private const int MinFrame = 60;
    private const int FcsLength = 4;
    private const int TagLength = 4;

#pragma warning disable CS1591
    public const byte StatusDd = 0x01;
    public const byte StatusEop = 0x02;
    public const byte StatusVp = 0x08;
    public const byte ErrorRxe = 0x80;
#pragma warning restore CS1591

    private readonly E1000Device _device;
    // 16-byte descriptors (legacy, extended) and the 82574's 32-byte packet-split ones; SyncRing picks one.
    private readonly DescriptorRing _plainRing = new(16);
    private readonly DescriptorRing _splitRing = new(PacketSplitDescriptorSize);
    private DescriptorRing _ring;
    private readonly byte[] _buffer = new byte[MaxLongFrame + FcsLength];
    private readonly FrameFifo _packetBuffer = new(64 * 1024);
    // A descriptor as read and its write-back half. Not stackalloc: Deliver has a loop, and a method
    // with both is compiled once without profile data (no tiering), which costs every frame.
    private readonly byte[] _descriptor = new byte[PacketSplitDescriptorSize];
    private readonly byte[] _writeBack = new byte[16];

    public ReceivePath(E1000Device device)
    {
        _device = device;
        _ring = _plainRing;
    }

    /// <summary>Frames waiting in the packet buffer for descriptors.</summary>
    public int Waiting => _packetBuffer.Count;

    public void Reset()
    {
        _plainRing.Reset();
        _splitRing.Reset();
        _ring = _plainRing;
        _packetBuffer.Clear();
    }

    /// <summary>
    /// The driver posted descriptors (RDT write) or enabled the receiver: frames waiting in the
    /// packet buffer go to the guest, oldest first, as far as descriptors reach. Bounded by the
    /// number of waiting frames.
    /// </summary>
    public void Drain()
    {
        uint rctl = _device.Registers.Get(Rctl);
        if ((rctl & RctlEn) == 0) return;
        while (_packetBuffer.TryPeek(out var data, out ulong tag))
        {
            var meta = Meta.From(tag);
            var outcome = Deliver(data, rctl, meta.Status, meta.Errors, meta.Special);
            if (outcome == Outcome.NoDescriptors) return;
            if (outcome == Outcome.Delivered) Delivered(data[..Math.Min(meta.FrameLength, data.Length)], meta.WireLength);
            _packetBuffer.TryDequeue();
        }
    }

    /// <summary>
    /// Whether a frame of <paramref name="length"/> bytes would be delivered or buffered rather
    /// than missed. True when it would be dropped anyway (receiver off, loopback): only a lack of
    /// guest buffers is worth waiting for.
    /// </summary>
    public bool HasRoomFor(int length)
    {
        uint rctl = _device.Registers.Get(Rctl);
        if ((rctl & RctlEn) == 0 || _device.LoopbackActive) return true;
        // A frame the ring cannot take waits in the packet buffer, which drains whenever the
        // driver posts descriptors; so only a full packet buffer means the frame would be missed.
        // (The ring itself is not consulted here: that would count a bad RDT as a fault twice.)
        _packetBuffer.Limit = PacketBufferBytes(_device.Registers.Get(Pba));
        // The buffer's own answer (contiguous room, its bookkeeping included), for the longest the
        // frame can be stored as: with the FCS field kept.
        return _packetBuffer.HasRoomFor(length + FcsLength);
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
        uint rctl = regs.Get(Rctl);
        if ((rctl & RctlEn) == 0)
        {
            counters.RxDisabled++;
            return;
        }
        _device.Statistics.CountArrived(Math.Max(frame.Length, MinFrame) + FcsLength);
        if (frame.Length < 14)
        {
            counters.RxTooShort++;
            _device.Statistics.Increment(Statistics.Ruc);
            return;
        }

        ushort vet = (ushort)regs.Get(Vet);
        bool tagged = frame.Length >= 16 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == vet;
        if (frame.Length > MaxLength(rctl, tagged))
        {
            counters.RxTooLong++;
            _device.Statistics.Increment(Statistics.Roc);
            return;
        }

        var verdict = _device.Filter.Accept(frame);
        if (!verdict.IsAccepted())
        {
            counters.CountRejected(verdict);
            return;
        }

        byte status = StatusDd;
        ushort special = 0;
        int length;
        if (tagged && (regs.Get(Ctrl) & CtrlVme) != 0)
        {
            // Strip the tag into SPECIAL (SDM 3.2.3.1, 3.4.1): addresses, then everything after the tag.
            special = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
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

        var (checksumStatus, errors) = ReceiveChecksum.Check(_buffer.AsSpan(0, length), regs.Get(Rxcsum));
        status |= checksumStatus;

        if (length < MinFrame)
        {
            _buffer.AsSpan(length, MinFrame - length).Clear();
            length = MinFrame;
        }
        // The FCS is not kept by the port; the buffer gets 4 zero bytes where it would be, unless SECRC strips it.
        int wireLength = length + FcsLength;
        if ((rctl & RctlSecrc) == 0)
        {
            _buffer.AsSpan(length, FcsLength).Clear();
            length += FcsLength;
        }

        var data = _buffer.AsSpan(0, length);
        if (_packetBuffer.Count == 0)
        {
            var outcome = Deliver(data, rctl, status, errors, special);
            if (outcome == Outcome.Delivered) Delivered(frame, wireLength);
            if (outcome != Outcome.NoDescriptors) return;
        }
        // No descriptors now (or frames already wait ahead of this one): hold it in the packet buffer.
        _device.Statistics.Increment(Statistics.Rnbc);
        _packetBuffer.Limit = PacketBufferBytes(regs.Get(Pba));
        if (!_packetBuffer.TryEnqueue(data, new Meta(status, errors, special, frame.Length, wireLength).ToTag()))
        {
            counters.RxNoBuffer++;
            _device.Statistics.Increment(Statistics.Mpc);
            _device.Causes.Raise(IcrRxo);
        }
    }

    private void Delivered(ReadOnlySpan<byte> frame, int wireLength)
    {
        var regs = _device.Registers;
        _device.Counters.CountDelivered(frame);
        _device.Statistics.CountDelivered(frame, wireLength);
        _device.Moderation.FrameReceived(regs.Get(Rdtr), regs.Get(Radv));
    }

    /// <summary>PBA bits 15:0: the receive share of the 82540's 64 KiB packet buffer, in KiB.</summary>
    private static int PacketBufferBytes(uint pba) => (int)Math.Min(pba & 0xFFFF, 64) * 1024;

    private static int MaxLength(uint rctl, bool tagged)
    {
        if ((rctl & (RctlLpe | RctlSbp)) != 0) return MaxLongFrame - FcsLength;
        return MaxStandardFrame + (tagged ? TagLength : 0);
    }

    /// <summary>RCTL.BSIZE/BSEX (SDM 13.4.22).</summary>
    private static int BufferSize(uint rctl)
    {
        int size = (int)(rctl >> RctlBsizeShift) & 3;
        if ((rctl & RctlBsex) != 0) return size switch { 1 => 16384, 2 => 8192, 3 => 4096, _ => 2048 };
        return size switch { 1 => 1024, 2 => 512, 3 => 256, _ => 2048 };
    }

    private enum Outcome { Delivered, NoDescriptors, Failed }

    private Outcome Deliver(ReadOnlySpan<byte> data, uint rctl, byte status, byte errors, ushort special)
    {
        if (_device.PacketSplitReceive) return DeliverSplit(data, rctl, status, errors, special);
        var regs = _device.Registers;
        if (!SyncRing(out uint available) || available * (long)BufferSize(rctl) < data.Length) return Outcome.NoDescriptors;

        var dma = _device.Dma;
        int bufferSize = BufferSize(rctl);
        Span<byte> raw = _descriptor;
        // Legacy write-back: the upper 8 bytes. Extended (82574 RFCTL.EXSTEN): all 16, the buffer
        // address overwritten (82574 datasheet 7.1.4.2).
        bool extended = _device.ExtendedReceiveDescriptors;
        Span<byte> writeBack = extended ? _writeBack : _writeBack.AsSpan(0, 8);
        uint writeBackOffset = extended ? 0u : 8u;
        int offset = 0;
        var budget = _ring.BeginPass();
        // Bounded by the ring size and by the available-descriptor check above.
        while (offset < data.Length && budget.TryTake())
        {
            int piece = Math.Min(bufferSize, data.Length - offset);
            bool last = offset + piece == data.Length;
            if (!_ring.TryReadHead(dma, raw))
            {
                Fault("receive descriptor outside guest memory", _ring.Base.Value + (ulong)_ring.Head * 16);
                regs.Set(Rdh, _ring.Head);
                return Outcome.Failed;
            }
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(raw);
            byte descriptorErrors = last ? errors : (byte)0;
            if (address == 0 || !dma.TryWrite(new GuestAddress(address), data.Slice(offset, piece)))
            {
                // The buffer is unusable: complete the descriptor with an error so the driver drops the frame.
                _device.Counters.DmaFaults++;
                _device.Faults.Warn(_device.Log, "receive buffer outside guest memory", address);
                descriptorErrors |= ErrorRxe;
            }
            byte pieceStatus = (byte)(status | (last ? StatusEop : 0));
            if (extended) WriteExtended(writeBack, piece, pieceStatus, descriptorErrors, special);
            else WriteLegacy(writeBack, piece, pieceStatus, descriptorErrors, special);
            if (!_ring.TryGetAddress(_ring.Head, out var at) || !at.TryAdd(writeBackOffset, out var upper) || !dma.TryWrite(upper, writeBack))
                Fault("receive descriptor write-back failed", at.Value);
            regs.Set(Rdh, _ring.Advance());
            offset += piece;
        }

        CheckThreshold(rctl);
        return Outcome.Delivered;
    }

    /// <summary>Legacy write-back (8254x SDM 3.2.3): length, checksum (0), status, errors, special.</summary>
    private static void WriteLegacy(Span<byte> writeBack, int length, byte status, byte errors, ushort special)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack, (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[2..], 0);
        writeBack[4] = status;
        writeBack[5] = errors;
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[6..], special);
    }

    /// <summary>
    /// Extended write-back (82574 datasheet 7.1.4.2): MRQ and the RSS hash or IP identification (0:
    /// RSS is not modelled, every frame is queue 0 with hash type "none"), then the extended
    /// status/error dword — the legacy status in bits 7:0 and the legacy errors in 31:24, which is
    /// where e1000e reads them — the length and the VLAN tag.
    /// </summary>
    private static void WriteExtended(Span<byte> writeBack, int length, byte status, byte errors, ushort special)
    {
        writeBack[..8].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(writeBack[8..], status | (uint)errors << 24);
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[12..], (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(writeBack[14..], special);
    }

    /// <summary>ICR.RXDMT0 when the descriptors left for hardware drop to RDLEN / 2^(RDMTS+1) (SDM 13.4.22).</summary>
    private void CheckThreshold(uint rctl)
    {
        uint count = _ring.Count;
        int shift = (int)((rctl & RctlRdmtsMask) >> RctlRdmtsShift) + 1;
        if (_ring.Pending <= count >> shift) _device.Causes.Raise(IcrRxdmt0);
    }

    private bool SyncRing(out uint available)
    {
        available = 0;
        var regs = _device.Registers;
        _ring = _device.PacketSplitReceive ? _splitRing : _plainRing;
        _ring.Configure(new GuestAddress((ulong)regs.Get(Rdbah) << 32 | regs.Get(Rdbal)), regs.Get(Rdlen));
        uint head = regs.Get(Rdh), tail = regs.Get(Rdt), count = _ring.Count;
        if (_ring == _splitRing)
        {
            // RDH/RDT count 16-byte units whatever the descriptor size (82574 datasheet 7.1.4.3;
            // e1000_alloc_rx_buffers_ps writes the tail doubled): a 32-byte descriptor is two.
            if (((head | tail) & 1) != 0)
            {
                Fault("packet split head or tail not on a 32-byte descriptor", (ulong)head << 32 | tail);
                return false;
            }
            head /= 2;
            tail /= 2;
        }
        if (count == 0) return false;
        if (head >= count || tail >= count)
        {
            Fault("receive head or tail beyond the ring", (ulong)head << 32 | tail);
            return false;
        }
        _ring.SetHead(head);
        _ring.SetTail(tail);
        available = _ring.Pending;
        return true;
    }

    private void Fault(string what, ulong detail)
    {
        _device.Counters.DescriptorFaults++;
        _device.Faults.Warn(_device.Log, what, detail);
    }

    /// <summary>What a frame waiting in the packet buffer needs for its descriptors and counters, packed into the FIFO's tag.</summary>
    private readonly record struct Meta(byte Status, byte Errors, ushort Special, int FrameLength, int WireLength)
    {
        public ulong ToTag() => Status | (ulong)Errors << 8 | (ulong)Special << 16 | (ulong)(ushort)FrameLength << 32 | (ulong)(ushort)WireLength << 48;

        public static Meta From(ulong tag) => new((byte)tag, (byte)(tag >> 8), (ushort)(tag >> 16), (ushort)(tag >> 32), (ushort)(tag >> 48));
    }
}
