using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// Receive: filter, then either the C-mode ring buffer or the C+ descriptor ring. Frames that find
/// no room wait in the receive FIFO (<see cref="FrameFifo"/>) until the driver frees space (CAPR
/// write; in C+ mode its interrupt acknowledgement or mask write); while the FIFO is full the port's
/// thread is held back (<see cref="HasRoomFor"/>, the core's backpressure), and only a frame that
/// still finds no room after that is missed (MPC, ISR RxFIFOOver).
/// </summary>
internal sealed class ReceivePath
{
    /// <summary>Longest frame (no FCS) in C mode: 8139too treats a longer one as a receiver fault (MAX_ETH_FRAME_SIZE 1792).</summary>
    public const int MaxRingFrame = 1792;

    /// <summary>Longest frame in C+ mode (receive status RxErrLong: "packet &gt; 4096 bytes").</summary>
    public const int MaxDescriptorFrame = 4096;

    /// <summary>The chip's descriptor index range (datasheet 9: up to 1024 descriptors per ring).</summary>
    public const int MaxRingDescriptors = 1024;

    private const int MinFrame = 60;
    private const int HeaderLength = 4;

    private readonly Rtl8139Device _nic;
    private readonly FrameFifo _fifo = new(64 * 1024);
    private readonly byte[] _stage = new byte[HeaderLength + MaxDescriptorFrame + EthernetFcs.Length];
    private int _ringLength = 8192;
    private bool _linearWrap;
    private int _readOffset;
    private int _writeOffset;
    private uint _descriptorIndex;

    public ReceivePath(Rtl8139Device nic) => _nic = nic;

    /// <summary>Frames missed since MPC was last cleared.</summary>
    public long Missed { get; set; }

    /// <summary>Frames waiting in the FIFO.</summary>
    public int Waiting => _fifo.Count;

    /// <summary>CBR: where the next packet goes in the ring buffer.</summary>
    public ushort WriteOffset => (ushort)_writeOffset;

    /// <summary>CAPR as the driver reads it: the read offset minus 16 (8139too writes cur_rx - 16).</summary>
    public uint CaprRegister => (uint)(_readOffset - 16) & 0xFFFF;

    /// <summary>The C+ receive descriptor the next frame uses.</summary>
    public uint DescriptorIndex => _descriptorIndex;

    public void Reset()
    {
        _fifo.Clear();
        _readOffset = _writeOffset = 0;
        _descriptorIndex = 0;
    }

    /// <summary>RxConfig RBLEN (8/16/32/64 KiB) and WRAP. WRAP has no effect with 64 KiB (datasheet 6, RCR).</summary>
    public void Configure(uint rxConfig)
    {
        _ringLength = 8192 << (int)((rxConfig >> RcrBufferLengthShift) & 3);
        _linearWrap = (rxConfig & RcrWrap) != 0 && _ringLength < 65536;
        _readOffset %= _ringLength;
        _writeOffset %= _ringLength;
    }

    /// <summary>Whether the ring buffer holds packets the driver has not consumed (CAPR + 16 != CBR).</summary>
    public bool HasUnread => _readOffset != _writeOffset;

    /// <summary>ChipCmd as read: RE/TE plus BUFE when the ring buffer holds nothing unread.</summary>
    public byte CommandStatus(byte command) => (byte)(command | (_readOffset == _writeOffset ? CmdBufferEmpty : 0));

    /// <summary>
    /// Whether a frame of <paramref name="length"/> bytes would be delivered or wait in the FIFO
    /// rather than be missed. True when it would be dropped anyway (receiver off, too long): only a
    /// full FIFO is worth waiting for. Without this the FIFO overflowed under a TCP stream to a
    /// guest slower than the port, and every missed frame cost the sender a retransmission.
    /// </summary>
    public bool HasRoomFor(int length) =>
        !_nic.ReceiverEnabled || length > (_nic.CPlusReceive ? MaxDescriptorFrame : MaxRingFrame) || _fifo.HasRoomFor(length);

    public void SetCapr(ushort capr)
    {
        _readOffset = (int)((uint)(capr + 16) & 0xFFFF) % _ringLength;
        Drain();
    }

    public void FromWire(ReadOnlySpan<byte> frame)
    {
        var counters = _nic.Counters;
        if (!_nic.ReceiverEnabled)
        {
            counters.RxDisabled++;
            return;
        }
        var result = _nic.Filter.Accept(frame);
        if (!result.IsAccepted())
        {
            counters.CountRejected(result);
            return;
        }
        if (frame.Length > (_nic.CPlusReceive ? MaxDescriptorFrame : MaxRingFrame))
        {
            counters.RxTooLong++;
            return;
        }
        if (_fifo.Count > 0) Drain();
        if (_fifo.Count == 0 && TryDeliver(frame, result)) return;
        // Waiting in the FIFO is not a loss (the frame goes to the guest when it frees room);
        // only a frame missed for want of room counts as "no buffer", as NicCounters defines it.
        if (_fifo.TryEnqueue(frame, (ulong)result)) return;
        counters.RxNoBuffer++;
        Missed++;
        _nic.Tally.MissedPackets++;
        _nic.Causes.Raise(IntRxFifoOverflow);
    }

    /// <summary>Delivers waiting frames while there is room (bounded by the frames waiting); wakes a port held back if any left.</summary>
    public void Drain()
    {
        if (!_nic.ReceiverEnabled) return;
        int before = _fifo.Count;
        for (int n = before; n > 0 && _fifo.TryPeek(out var frame, out ulong tag); n--)
        {
            if (!TryDeliver(frame, (ReceiveFilterResult)tag)) break;
            _fifo.TryDequeue();
        }
        if (_fifo.Count < before) _nic.ReceiveRoomFreed();
    }

    /// <summary>False when there is no room now (the frame waits); true when it was delivered or dropped for good.</summary>
    private bool TryDeliver(ReadOnlySpan<byte> frame, ReceiveFilterResult result) =>
        _nic.CPlusReceive ? TryDeliverToDescriptor(frame, result) : TryDeliverToRing(frame, result);

    /// <summary>
    /// C mode (datasheet 7.1, "Receive"): a 4-byte header (status, length including the FCS), the
    /// frame and its FCS at CBR, the next packet dword aligned. With WRAP set the packet runs on past
    /// the end of the ring (the driver allocates the slack); otherwise it wraps to RBSTART.
    /// </summary>
    private bool TryDeliverToRing(ReadOnlySpan<byte> frame, ReceiveFilterResult result)
    {
        int dataLength = Math.Max(frame.Length, MinFrame);
        int packetLength = dataLength + EthernetFcs.Length;
        int total = (HeaderLength + packetLength + 3) & ~3;
        int used = (_writeOffset - _readOffset + _ringLength) % _ringLength;
        // Strictly less: a full ring would look empty (CBR == CAPR + 16).
        if (total >= _ringLength - used) return false;

        var packet = _stage.AsSpan(0, HeaderLength + packetLength);
        BinaryPrimitives.WriteUInt16LittleEndian(packet, RingStatus(result));
        BinaryPrimitives.WriteUInt16LittleEndian(packet[2..], (ushort)packetLength);
        frame.CopyTo(packet[HeaderLength..]);
        packet.Slice(HeaderLength + frame.Length, dataLength - frame.Length).Clear();
        EthernetFcs.TryWrite(packet.Slice(HeaderLength, dataLength), packet[(HeaderLength + dataLength)..]);

        var start = new GuestAddress(_nic.Registers.Get(RbStart));
        bool ok;
        if (_linearWrap || _writeOffset + packet.Length <= _ringLength)
        {
            ok = TryWrite(start, (ulong)_writeOffset, packet);
        }
        else
        {
            int first = _ringLength - _writeOffset;
            ok = TryWrite(start, (ulong)_writeOffset, packet[..first]) && TryWrite(start, 0, packet[first..]);
        }
        if (!ok)
        {
            _nic.Counters.DmaFaults++;
            _nic.Fault("receive ring buffer outside guest memory", start.Value + (ulong)_writeOffset);
            _nic.Causes.Raise(IntRxErr);
            return true;
        }
        _writeOffset = (_writeOffset + total) % _ringLength;
        Delivered(frame, result);
        return true;
    }

    private bool TryWrite(GuestAddress start, ulong offset, ReadOnlySpan<byte> data) =>
        start.TryAdd(offset, out var at) && _nic.Dma.TryWrite(at, data);

    private static ushort RingStatus(ReceiveFilterResult result) => (ushort)(RxStatusOk | result switch
    {
        ReceiveFilterResult.AcceptedBroadcast => RxStatusBroadcast,
        ReceiveFilterResult.AcceptedUnicast => RxStatusPhysical,
        ReceiveFilterResult.AcceptedMulticastHash or ReceiveFilterResult.AcceptedMulticastExact or ReceiveFilterResult.AcceptedAllMulticast => RxStatusMulticast,
        _ => 0,
    });

    /// <summary>
    /// C+ mode (datasheet 9.2, receive descriptors; 8139cp cp_rx_poll): the descriptor at RDSAR +
    /// 16 x index must be owned by the NIC; the frame and FCS go to its buffer, then opts2 (the
    /// stripped VLAN tag) and opts1 (status, length with FCS, ownership back to the driver).
    /// </summary>
    private bool TryDeliverToDescriptor(ReadOnlySpan<byte> frame, ReceiveFilterResult result)
    {
        var ring = new GuestAddress((ulong)_nic.Registers.Get(RdsarHigh) << 32 | _nic.Registers.Get(RdsarLow));
        Span<byte> descriptor = stackalloc byte[16];
        if (!ring.TryAdd(_descriptorIndex * 16UL, out var at) || !_nic.Dma.TryRead(at, descriptor))
        {
            _nic.Counters.DmaFaults++;
            _nic.Fault("receive descriptor outside guest memory", ring.Value);
            _nic.Causes.Raise(IntRxErr);
            return true;
        }
        uint opts1 = BinaryPrimitives.ReadUInt32LittleEndian(descriptor);
        if ((opts1 & DescOwn) == 0)
        {
            _nic.Causes.Raise(IntRxOverflow);   // C+ "Rx descriptor unavailable"
            return false;
        }
        int bufferSize = (int)(opts1 & RxLengthMask);
        var buffer = new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(descriptor[8..]));

        ushort cp = _nic.CPlusCommand;
        uint opts2 = 0;
        int length;
        if ((cp & CpRxVlan) != 0 && frame.Length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100)
        {
            ushort tci = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
            opts2 = RxVlanTagged | BinaryPrimitives.ReverseEndianness(tci);
            frame[..12].CopyTo(_stage);
            frame[16..].CopyTo(_stage.AsSpan(12));
            length = frame.Length - 4;
        }
        else
        {
            frame.CopyTo(_stage);
            length = frame.Length;
        }
        int dataLength = Math.Max(length, MinFrame);
        _stage.AsSpan(length, dataLength - length).Clear();
        int packetLength = dataLength + EthernetFcs.Length;
        var packet = _stage.AsSpan(0, packetLength);
        EthernetFcs.TryWrite(packet[..dataLength], packet[dataLength..]);

        uint status = (opts1 & DescRingEnd) | DescFirst | DescLast | (uint)packetLength;
        if (packetLength > bufferSize)
        {
            status |= RxError | RxErrorLong;
            _nic.Counters.RxTooLong++;
        }
        else if (!_nic.Dma.TryWrite(buffer, packet))
        {
            status |= RxError;
            _nic.Counters.DmaFaults++;
            _nic.Fault("receive buffer outside guest memory", buffer.Value);
        }
        else
        {
            if ((cp & CpRxChecksum) != 0) status |= ReceiveChecksum.Status(packet[..length]);
            status |= result switch
            {
                ReceiveFilterResult.AcceptedBroadcast => RxBroadcast,
                ReceiveFilterResult.AcceptedUnicast => RxPhysical,
                ReceiveFilterResult.AcceptedPromiscuous => 0,
                _ => RxMulticast,
            };
        }
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[4..], opts2);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor, status);
        // opts2 before opts1: the driver owns the descriptor once opts1 is written.
        _nic.Dma.TryWrite(new GuestAddress(at.Value + 4), descriptor.Slice(4, 4));
        _nic.Dma.TryWrite(at, descriptor[..4]);
        _descriptorIndex = NextIndex(_descriptorIndex, opts1);

        if ((status & RxError) != 0)
        {
            _nic.Tally.RxErrors++;
            _nic.Causes.Raise(IntRxErr);
            return true;
        }
        Delivered(frame, result);
        return true;
    }

    /// <summary>The next descriptor: 0 after one marked RingEnd, and 0 past the chip's 1024 (a ring without an end).</summary>
    internal uint NextIndex(uint index, uint opts1)
    {
        if ((opts1 & DescRingEnd) != 0) return 0;
        if (index + 1 < MaxRingDescriptors) return index + 1;
        _nic.Counters.DescriptorFaults++;
        _nic.Fault("receive ring without RingEnd", index);
        return 0;
    }

    private void Delivered(ReadOnlySpan<byte> frame, ReceiveFilterResult result)
    {
        _nic.Counters.CountDelivered(frame);
        ref var tally = ref _nic.Tally;
        tally.RxOk++;
        if (result == ReceiveFilterResult.AcceptedBroadcast) tally.RxBroadcast++;
        else if (result == ReceiveFilterResult.AcceptedUnicast) tally.RxPhysical++;
        else if (result != ReceiveFilterResult.AcceptedPromiscuous) tally.RxMulticast++;
        _nic.Causes.Raise(IntRxOk);
    }
}
