using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// Transmit: the four C-mode slots (a TSD write with OWN clear sends TSAD's buffer) and the C+
/// normal-priority descriptor ring (TPPoll NPQ walks TNPDS until a descriptor the driver still owns).
/// </summary>
internal sealed class TransmitPath
{
    /// <summary>Largest C-mode frame: TSD SIZE is 13 bits, and the part's transmit FIFO takes 1792 bytes (datasheet 6, TSD).</summary>
    public const int MaxSlotFrame = 1792;

    /// <summary>Largest C+ packet gathered from descriptors (a large-send packet is at most 64 KiB of IP).</summary>
    public const int MaxPacket = 65536 + 64;

    private const uint TsdAborted = 1u << 30;
    private const int TagRoom = 4;

    private readonly Rtl8139Device _nic;
    private readonly byte[] _packet = new byte[TagRoom + MaxPacket];
    private uint _index;
    private int _length;
    private bool _inPacket, _bad;
    private uint _firstOpts1, _firstOpts2;

    public TransmitPath(Rtl8139Device nic) => _nic = nic;

    /// <summary>The C+ descriptor the next poll starts at.</summary>
    public uint DescriptorIndex => _index;

    public void Reset()
    {
        _index = 0;
        _inPacket = false;
        _length = 0;
    }

    /// <summary>TSAD (0x60): TOK, TUN, TABT and OWN of the four slots.</summary>
    public uint Summary()
    {
        uint s = 0;
        for (int i = 0; i < 4; i++)
        {
            uint tsd = _nic.Registers.GetElement(Tsd0, i);
            if ((tsd & TsdOk) != 0) s |= 1u << (12 + i);
            if ((tsd & TsdUnderrun) != 0) s |= 1u << (8 + i);
            if ((tsd & TsdAborted) != 0) s |= 1u << (4 + i);
            if ((tsd & TsdOwn) != 0) s |= 1u << i;
        }
        return s;
    }

    /// <summary>A TSD write (C mode), or in C+ mode a DTCCR write (0x10: dump the tally counters).</summary>
    public void OnStatusWrite(int slot, uint oldValue, uint value)
    {
        var registers = _nic.Registers;
        if (_nic.CPlusTransmit)
        {
            if (slot == 0 && (value & DumpStats) != 0) DumpTally();
            return;
        }
        uint stored = value & TsdWritable;
        registers.SetElement(Tsd0, slot, stored);
        if ((value & TsdOwn) != 0 || !_nic.TransmitterEnabled) return;

        int size = (int)(value & TsdSizeMask);
        var buffer = new GuestAddress(registers.GetElement(Tsad0, slot));
        var frame = _packet.AsSpan(0, size);
        if (size is 0 or > MaxSlotFrame || !_nic.Dma.TryRead(buffer, frame))
        {
            if (size is > 0 and <= MaxSlotFrame) _nic.Counters.DmaFaults++;
            _nic.Counters.TxErrors++;
            _nic.Tally.TxAborted++;
            _nic.Fault("transmit slot with a bad size or buffer", (ulong)size << 32 | buffer.Value);
            registers.SetElement(Tsd0, slot, stored | TsdOwn | TsdAborted);
            _nic.Causes.Raise(IntTxErr);
            return;
        }
        _nic.Send(frame, default);
        _nic.Tally.TxOk++;
        registers.SetElement(Tsd0, slot, stored | TsdOwn | TsdOk);
        _nic.Causes.Raise(IntTxOk);
    }

    /// <summary>
    /// TPPoll NPQ (C+; 8139cp cp_start_xmit): sends every packet whose descriptors the driver handed
    /// over, FirstFrag to LastFrag, clearing OWN in each. At most 1024 descriptors per poll.
    /// </summary>
    public void PollCPlus()
    {
        if (!_nic.CPlusTransmit || !_nic.TransmitterEnabled) return;
        var registers = _nic.Registers;
        var ring = new GuestAddress((ulong)registers.GetElement(Tsad0, 1) << 32 | registers.GetElement(Tsad0, 0));
        Span<byte> descriptor = stackalloc byte[16];
        bool sent = false, failed = false;
        for (int budget = ReceivePath.MaxRingDescriptors; budget > 0; budget--)
        {
            if (!ring.TryAdd(_index * 16UL, out var at) || !_nic.Dma.TryRead(at, descriptor))
            {
                _nic.Counters.DmaFaults++;
                _nic.Fault("transmit descriptor outside guest memory", ring.Value);
                failed = true;
                break;
            }
            uint opts1 = BinaryPrimitives.ReadUInt32LittleEndian(descriptor);
            if ((opts1 & DescOwn) == 0) break;
            uint opts2 = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[4..]);
            if ((opts1 & DescFirst) != 0)
            {
                if (_inPacket) Refuse("transmit packet without LastFrag", _index);
                _inPacket = true;
                _bad = false;
                _length = 0;
                _firstOpts1 = opts1;
                _firstOpts2 = opts2;
            }
            else if (!_inPacket)
            {
                _inPacket = true;
                _bad = true;
                _length = 0;
                Refuse("transmit fragment without FirstFrag", _index);
            }
            Gather(opts1, BinaryPrimitives.ReadUInt64LittleEndian(descriptor[8..]));
            uint status = opts1 & ~DescOwn;
            if ((opts1 & DescLast) != 0)
            {
                // What the descriptors got wrong is counted here; an offload the core refuses, by the core.
                bool refused = _bad || _length < 14;
                if (refused) _nic.Counters.TxErrors++;
                else refused = SendPacket() == TransmitResult.Refused;
                if (refused)
                {
                    status |= TxError;
                    _nic.Tally.TxErrors++;
                    failed = true;
                }
                else _nic.Tally.TxOk++;
                _inPacket = false;
                sent = true;
            }
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor, status);
            _nic.Dma.TryWrite(at, descriptor[..4]);
            _index = NextIndex(_index, opts1);
        }
        if (sent) _nic.Causes.Raise(IntTxOk);
        if (failed) _nic.Causes.Raise(IntTxErr);
    }

    private const uint TxError = 1u << 23;

    private void Gather(uint opts1, ulong address)
    {
        int length = (int)(opts1 & TxLengthMask);
        if (_bad) return;
        if (_length + length > MaxPacket)
        {
            Refuse("transmit packet over 64 KiB", (ulong)(_length + length));
            return;
        }
        if (!_nic.Dma.TryRead(new GuestAddress(address), _packet.AsSpan(TagRoom + _length, length)))
        {
            _nic.Counters.DmaFaults++;
            Refuse("transmit buffer outside guest memory", address);
            return;
        }
        _length += length;
    }

    private void Refuse(string what, ulong detail)
    {
        _bad = true;
        _nic.Counters.DescriptorFaults++;
        _nic.Fault(what, detail);
    }

    private uint NextIndex(uint index, uint opts1)
    {
        if ((opts1 & DescRingEnd) != 0) return 0;
        if (index + 1 < ReceivePath.MaxRingDescriptors) return index + 1;
        _nic.Counters.DescriptorFaults++;
        _nic.Fault("transmit ring without RingEnd", index);
        return 0;
    }

    /// <summary>
    /// VLAN insertion (opts2 TxVlanTag), then checksum offload or large send (LGSEN: TCP over IPv4
    /// in MSS-sized segments, datasheet 9.1; IPv4 only, as in QEMU's rtl8139), both left to the NIC core.
    /// </summary>
    private TransmitResult SendPacket()
    {
        int start = TagRoom, length = _length;
        if ((_firstOpts2 & TxVlanTag) != 0)
        {
            // The tag goes in front of the EtherType: move the two addresses into the room left for it.
            _packet.AsSpan(TagRoom, 12).CopyTo(_packet);
            BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(14), BinaryPrimitives.ReverseEndianness((ushort)_firstOpts2));
            start = 0;
            length += 4;
        }
        var frame = _packet.AsSpan(start, length);
        uint opts1 = _firstOpts1;
        if ((opts1 & TxLargeSend) != 0)
            return _nic.Send(frame, new FrameOffload(true, 0, 0, GsoType.TcpV4, 0, (ushort)((opts1 >> TxMssShift) & TxMssMask)));
        var offload = default(FrameOffload);
        if ((opts1 & (TxIpChecksum | TxTcpChecksum | TxUdpChecksum)) != 0 && !TransmitChecksum.TryPrepare(frame, opts1, out offload))
            _nic.Fault("checksum offload on a frame that is not TCP/UDP over IPv4", opts1);
        return _nic.Send(frame, offload);
    }

    /// <summary>
    /// DTCCR (C+; datasheet 6.x, "Dump Tally Counter Command"): the 64-byte counter block (8139cp
    /// struct cp_dma_stats) goes to the 64-byte aligned address in 0x10-0x17, then the command bit clears.
    /// </summary>
    private void DumpTally()
    {
        var registers = _nic.Registers;
        uint low = registers.GetElement(Tsd0, 0);
        var address = new GuestAddress((ulong)registers.GetElement(Tsd0, 1) << 32 | (low & ~0x3Fu));
        Span<byte> block = stackalloc byte[64];
        block.Clear();
        ref var t = ref _nic.Tally;
        BinaryPrimitives.WriteUInt64LittleEndian(block, t.TxOk);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], t.RxOk);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], t.TxErrors);
        BinaryPrimitives.WriteUInt32LittleEndian(block[24..], t.RxErrors);
        BinaryPrimitives.WriteUInt16LittleEndian(block[28..], t.MissedPackets);
        BinaryPrimitives.WriteUInt64LittleEndian(block[40..], t.RxPhysical);
        BinaryPrimitives.WriteUInt64LittleEndian(block[48..], t.RxBroadcast);
        BinaryPrimitives.WriteUInt32LittleEndian(block[56..], t.RxMulticast);
        BinaryPrimitives.WriteUInt16LittleEndian(block[60..], t.TxAborted);
        if (!_nic.Dma.TryWrite(address, block))
        {
            _nic.Counters.DmaFaults++;
            _nic.Fault("tally counter dump outside guest memory", address.Value);
        }
        registers.SetElement(Tsd0, 0, low & ~DumpStats);
    }
}
