using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Nic.Dma;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The transmit DMA engine (8254x SDM 3.3-3.4): walks the ring from TDH to TDT when the driver
/// writes TDT or sets TCTL.EN, gathers each packet's buffers into one preallocated 64 KiB frame
/// until EOP, hands it to the NIC core's egress with its offloads (<see cref="TransmitOffload"/>),
/// writes DD back to descriptors with RS/RPS and raises TXDW/TXQE.
/// </summary>
/// <remarks>
/// A packet may span kicks (the driver may advance TDT in pieces); its state is kept here. Every
/// pass handles at most one ring's worth of descriptors. Guest mistakes (indices beyond the ring,
/// descriptors outside RAM, packets over 64 KiB, missing EOP) are counted and skipped; the frame
/// path allocates nothing.
/// </remarks>
internal sealed class TransmitPath
{
    /// <summary>Largest packet the engine assembles (a TSO packet is at most 64 KiB).</summary>
    public const int MaxPacket = 64 * 1024;

    /// <summary>Minimum frame length without FCS; TCTL.PSP pads shorter frames to it (the NIC core does).</summary>
    public const int MinFrame = 60;

    // Room in front of the packet for a VLAN tag inserted by VLE.
    private const int Headroom = 4;

    private readonly E1000Device _device;
    private readonly DescriptorRing _ring = new(TransmitDescriptor.Size);
    private readonly byte[] _buffer = new byte[Headroom + MaxPacket];
    private readonly TransmitOffload _offload;

    private bool _inPacket;
    private bool _discard;
    private int _length;
    private bool _extended;
    private bool _segment;
    private byte _options;
    private TransmitContext _context;

    public TransmitPath(E1000Device device)
    {
        _device = device;
        _offload = new TransmitOffload(device);
    }

    /// <summary>Forgets any half-gathered packet and the offload context (CTRL.RST).</summary>
    public void Reset()
    {
        _inPacket = _discard = _segment = _extended = false;
        _length = 0;
        _options = 0;
        _context = default;
        _ring.Reset();
    }

    /// <summary>TDT was written or TCTL.EN was set: process descriptors from TDH up to TDT.</summary>
    public void Kick()
    {
        var regs = _device.Registers;
        if ((regs.Get(Tctl) & TctlEn) == 0 || !SyncRing()) return;

        var dma = _device.Dma;
        Span<byte> raw = stackalloc byte[TransmitDescriptor.Size];
        var budget = _ring.BeginPass();
        bool processed = false, wroteBack = false, immediate = false;
        while (!_ring.IsEmpty && budget.TryTake())
        {
            processed = true;
            if (!_ring.TryReadHead(dma, raw))
            {
                Fault("transmit descriptor outside guest memory", _ring.Base.Value + (ulong)_ring.Head * TransmitDescriptor.Size);
                AbandonPacket();
            }
            else
            {
                var d = new TransmitDescriptor(raw);
                Process(d);
                if (d.ReportStatus && WriteBack(d))
                {
                    wroteBack = true;
                    immediate |= !d.DelayInterrupt;
                }
            }
            regs.Set(Tdh, _ring.Advance());
        }

        if (wroteBack)
            _device.Moderation.TransmitWrittenBack(!immediate, regs.Get(Tidv), regs.Get(Tadv));
        if (processed && _ring.IsEmpty) _device.Causes.Raise(IcrTxqe);
    }

    private bool SyncRing()
    {
        var regs = _device.Registers;
        var baseAddress = new GuestAddress((ulong)regs.Get(Tdbah) << 32 | regs.Get(Tdbal));
        _ring.Configure(baseAddress, regs.Get(Tdlen));
        uint head = regs.Get(Tdh), tail = regs.Get(Tdt), count = _ring.Count;
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
        _ring.SetHead(head);
        _ring.SetTail(tail);
        return true;
    }

    private void Process(in TransmitDescriptor d)
    {
        if (d.IsContext)
        {
            _context = TransmitContext.From(d);
            return;
        }
        if (d.IsExtended && !d.IsData)
        {
            // DTYP values other than 0 and 1 are reserved: skip the descriptor, keep the packet.
            Fault("reserved transmit descriptor type", d.Lower);
            return;
        }
        if (!_inPacket)
        {
            // POPTS and TSE are taken from the first descriptor of a packet (SDM 3.3.7).
            _inPacket = true;
            _discard = false;
            _length = 0;
            _extended = d.IsExtended;
            _segment = d.IsExtended && d.Segment;
            _options = d.IsExtended ? d.Options : (byte)0;
        }
        Gather(d);
        if (!d.EndOfPacket) return;

        _inPacket = false;
        if (_discard)
        {
            _device.Counters.TxErrors++;
            if (_segment) _device.Statistics.Increment(Statistics.Tsctfc);
            return;
        }
        if (_length == 0) return;
        var packet = _buffer.AsSpan(Headroom, _length);
        var request = new TransmitRequest(
            Extended: _extended, Segment: _segment, Options: _options,
            LegacyChecksum: !_extended && d.LegacyInsertChecksum, LegacyStart: d.LegacyChecksumStart, LegacyOffset: d.LegacyChecksumOffset,
            InsertVlan: d.InsertVlan && (_device.Registers.Get(Ctrl) & CtrlVme) != 0, Special: d.Special);
        _offload.Send(_buffer, Headroom, packet.Length, request, _context);
    }

    private void Gather(in TransmitDescriptor d)
    {
        int length = d.Length;
        if (length == 0 || _discard) return;
        if (length > MaxPacket - _length)
        {
            _device.Faults.Warn(_device.Log, "transmit packet longer than 64 KiB", (ulong)_length + (ulong)length);
            _discard = true;
            return;
        }
        if (!_device.Dma.TryRead(new GuestAddress(d.Address), _buffer.AsSpan(Headroom + _length, length)))
        {
            _device.Counters.DmaFaults++;
            _device.Faults.Warn(_device.Log, "transmit buffer outside guest memory", d.Address);
            _discard = true;
            return;
        }
        _length += length;
    }

    private void AbandonPacket()
    {
        if (_inPacket) _discard = true;
    }

    /// <summary>Sets DD in the descriptor's status and clears EC/LC/TU, leaving the rest of the upper dword as the driver wrote it.</summary>
    private bool WriteBack(in TransmitDescriptor d)
    {
        Span<byte> upper = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(upper, (d.Upper & ~TransmitDescriptor.StatusMask) | TransmitDescriptor.StatusDd);
        if (_ring.TryGetAddress(_ring.Head, out var at) && at.TryAdd(12, out var status) && _device.Dma.TryWrite(status, upper))
            return true;
        Fault("transmit descriptor write-back failed", at.Value);
        return false;
    }

    private void Fault(string what, ulong detail)
    {
        _device.Counters.DescriptorFaults++;
        _device.Faults.Warn(_device.Log, what, detail);
    }
}

/// <summary>What the descriptors of one packet asked for, besides the shared context.</summary>
internal readonly record struct TransmitRequest(
    bool Extended, bool Segment, byte Options,
    bool LegacyChecksum, byte LegacyStart, byte LegacyOffset,
    bool InsertVlan, ushort Special);
