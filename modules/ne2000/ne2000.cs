// Polynic personality module: NE2000 PCI (Realtek RTL8029, 10EC:8029), driven by Linux ne2k-pci.
// The behaviour of the descriptor ne2000.xml (PCI identity, I/O BAR, station-address PROM come
// from there): a run-time source module compiled by the server's module catalog when the
// descriptor is loaded, using only the framework and Polynic.Core.
//
// Register model (DP8390 datasheet; RTL8029AS datasheet):
//   BAR0, 32 bytes of I/O space:
//     0x00-0x0F  DP8390 registers, page chosen by CR PS1:PS0 (bits 7:6)
//     0x10-0x17  remote DMA data port (byte, word and dword accesses)
//     0x18-0x1F  reset port: a read resets the chip and sets ISR RST
//   Packet memory as seen by remote DMA: station-address PROM at 0x0000-0x001F (16 bytes, each
//   byte doubled for word-mode cards), 16 KiB of buffer RAM at 0x4000-0x7FFF.

using System;
using Microsoft.Extensions.Logging;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Core.Pci;

[assembly: PolynicModule(PolynicSdk.Major, PolynicSdk.Minor)]

namespace Polynic.Modules.Ne2000;

/// <summary>Creates NE2000 PCI (RTL8029) devices as the behaviour of the descriptor ne2000.xml.</summary>
public sealed class Ne2000Factory : IPersonalityFactory
{
    /// <inheritdoc/>
    public string Name => "ne2000";

    /// <inheritdoc/>
    public string Description => "NE2000 PCI, Realtek RTL8029 (10EC:8029), Linux ne2k-pci";

    /// <inheritdoc/>
    public IPciDevice Create(PersonalitySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.RejectUnknownOptions();
        var descriptor = settings.Descriptor
            ?? throw new ArgumentException("ne2000.cs is the behaviour of the descriptor ne2000.xml; load the descriptor, not the source file");
        return new Ne2000Device(settings.Nic, descriptor);
    }
}

/// <summary>
/// The DP8390 core of an RTL8029: remote DMA between the host and on-chip packet memory, a
/// receive ring of 256-byte pages between PSTART and PSTOP, one transmit buffer at TPSR, INTx.
/// All state is guarded by the <see cref="NicDevice"/> lock.
/// </summary>
public sealed class Ne2000Device : NicDevice
{
    /// <summary>Size of the I/O BAR.</summary>
    public const int BarSize = 32;

    /// <summary>First address of buffer RAM in the remote DMA address space.</summary>
    public const int MemoryStart = 0x4000;

    /// <summary>Size of buffer RAM.</summary>
    public const int MemorySize = 16 * 1024;

    /// <summary>Size of the station-address PROM window (16 bytes doubled).</summary>
    public const int PromSize = 32;

    /// <summary>Longest frame stored (without FCS): ne2k-pci drops longer ones (1518 = tagged maximum).</summary>
    public const int MaxFrame = 1518;

    private const int MinFrame = 60;
    private const int PageSize = 256;

    // CR (all pages).
    private const byte CrStop = 0x01, CrStart = 0x02, CrTransmit = 0x04;
    private const byte CrRemoteMask = 0x38, CrRemoteRead = 0x08, CrRemoteWrite = 0x10;
    // ISR / IMR.
    private const byte IsrRx = 0x01, IsrTx = 0x02, IsrRxError = 0x04, IsrTxError = 0x08, IsrOverwrite = 0x10;
    private const byte IsrCounters = 0x20, IsrRemoteDone = 0x40, IsrReset = 0x80;
    // DCR.
    private const byte DcrWordTransfer = 0x01;
    // RCR.
    private const byte RcrBroadcast = 0x04, RcrMulticast = 0x08, RcrPromiscuous = 0x10, RcrMonitor = 0x20;
    // TCR loopback bits.
    private const byte TcrLoopbackMask = 0x06;
    // RSR / TSR.
    private const byte RsrReceivedOk = 0x01, RsrPhysical = 0x20;
    private const byte TsrTransmitted = 0x01, TsrAborted = 0x08;

    private readonly byte[] _prom = new byte[PromSize];
    private readonly byte[] _memory = new byte[MemorySize];
    private readonly byte[] _frame = new byte[MaxFrame + 4];
    private readonly byte[] _par = new byte[6];
    private readonly byte[] _mar = new byte[8];

    private byte _cr, _isr, _imr, _dcr, _rcr, _tcr, _rsr, _tsr;
    private byte _pstart, _pstop, _bnry, _curr, _tpsr;
    private ushort _tbcr, _rsar, _rbcr;
    private bool _attached;

    /// <summary>
    /// Creates an RTL8029 with station address <see cref="NicSettings.Mac"/>, its PCI function and
    /// PROM as <paramref name="descriptor"/> declares them.
    /// </summary>
    /// <exception cref="ArgumentException">The descriptor lacks the 32-byte I/O BAR 0 or an 8-word PROM.</exception>
    public Ne2000Device(NicSettings settings, PersonalityDescriptor descriptor) : base(settings)
    {
        if (descriptor.Definition.FindBar(0) is not { Kind: BarKind.Io, Size: >= BarSize })
            throw new ArgumentException($"{descriptor.SourceFile}: the NE2000 needs BAR 0 as an I/O BAR of at least {BarSize} bytes");
        if (descriptor.Eeprom is not { Words: PromSize / 4 } prom)
            throw new ArgumentException($"{descriptor.SourceFile}: the NE2000 needs an <eeprom words=\"{PromSize / 4}\"> holding its station-address PROM");
        Filter = new ReceiveFilter(1, 64, MulticastHashKind.EthernetCrcTop6) { BroadcastUsesGroupFilters = false };
        Faults = new FaultLog();
        Definition = descriptor.Definition;
        // The 16-byte PROM, little-endian words from the descriptor; a word-wide card returns each byte twice.
        var words = prom.Image(settings.Mac);
        for (int i = 0; i < 16; i++)
        {
            byte b = (byte)(words[i / 2] >> (8 * (i % 2)));
            _prom[2 * i] = _prom[2 * i + 1] = b;
        }
        PowerOnReset();
    }

    /// <inheritdoc/>
    public override PciFunctionDefinition Definition { get; }

    /// <summary>The receive filter (PAR, MAR, RCR AB/AM/PRO).</summary>
    public ReceiveFilter Filter { get; }

    /// <summary>Rate-limited log of guest faults.</summary>
    public FaultLog Faults { get; }

    private bool Stopped => (_cr & CrStop) != 0;
    private int Page => _cr >> 6;
    private bool RingValid => _pstart >= MemoryStart / PageSize && _pstop <= (MemoryStart + MemorySize) / PageSize && _pstart < _pstop;

    // ---------------------------------------------------------------- NicDevice

    /// <inheritdoc/>
    protected override void OnAttached()
    {
        _attached = true;
        UpdateInterrupt();
    }

    /// <inheritdoc/>
    protected override void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        if (bar != 0 || offset >= BarSize) { data.Fill(0xFF); return; }
        int at = (int)offset;
        int i = 0;
        // Byte registers one at a time; the data port takes the rest of the access as one transfer.
        for (; i < data.Length && at + i < 0x10; i++) data[i] = ReadRegister(at + i);
        if (i >= data.Length) { UpdateInterrupt(); return; }
        int port = at + i;
        if (port < 0x18) DataPortRead(data[i..]);
        else
        {
            // Reset port: a read resets the chip (ne2k-pci: outb(inb(NE_RESET), NE_RESET)).
            SoftReset();
            data[i..].Clear();
        }
        UpdateInterrupt();
    }

    /// <inheritdoc/>
    protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar != 0 || offset >= BarSize) return;
        int at = (int)offset;
        int i = 0;
        for (; i < data.Length && at + i < 0x10; i++) WriteRegister(at + i, data[i]);
        if (i < data.Length && at + i < 0x18) DataPortWrite(data[i..]);
        // Writes to the reset port do nothing (the read did the reset).
        UpdateInterrupt();
    }

    /// <inheritdoc/>
    protected override void ResetDevice() => PowerOnReset();

    /// <inheritdoc/>
    protected override bool CanReceive(int frameLength)
    {
        if (Stopped || (_rcr & RcrMonitor) != 0 || !RingValid) return true;
        int length = Math.Clamp(frameLength, MinFrame, MaxFrame);
        return PagesFor(length) < FreePages();
    }

    /// <inheritdoc/>
    protected override void ReceiveFrame(ReadOnlySpan<byte> frame)
    {
        Deliver(frame);
        UpdateInterrupt();
    }

    /// <inheritdoc/>
    /// <remarks>TCR LB1/LB0 other than 00: internal or external loopback (DP8390D, Transmit Configuration Register).</remarks>
    protected override bool LoopingBack => (_tcr & TcrLoopbackMask) != 0;

    /// <inheritdoc/>
    protected override void ReceiveLoopedBack(ReadOnlySpan<byte> frame) => Deliver(frame);

    // ---------------------------------------------------------------- registers

    private byte ReadRegister(int offset)
    {
        if (offset == 0) return _cr;
        switch (Page)
        {
            case 0:
                switch (offset)
                {
                    case 0x03: return _bnry;
                    case 0x04: return _tsr;
                    case 0x05: return 0;                 // NCR: no collisions
                    case 0x07: return _isr;
                    case 0x08: return (byte)_rsar;       // CRDA0
                    case 0x09: return (byte)(_rsar >> 8); // CRDA1
                    case 0x0A: return 0x50;              // RTL8029 ID0 'P'
                    case 0x0B: return 0x43;              // RTL8029 ID1 'C'
                    case 0x0C: return _rsr;
                    case 0x0D: case 0x0E: case 0x0F: return 0; // tally counters: no errors counted
                    default: return 0xFF;
                }
            case 1:
                if (offset <= 6) return _par[offset - 1];
                if (offset == 7) return _curr;
                return _mar[offset - 8];
            case 2:
                switch (offset)
                {
                    case 0x01: return _pstart;
                    case 0x02: return _pstop;
                    case 0x04: return _tpsr;
                    case 0x0C: return (byte)(_rcr | 0xC0);
                    case 0x0D: return (byte)(_tcr | 0xE0);
                    case 0x0E: return (byte)(_dcr | 0x80);
                    case 0x0F: return (byte)(_imr | 0x80);
                    default: return 0xFF;
                }
            default:
                return 0; // RTL8029 page 3 configuration registers: nothing configurable
        }
    }

    private void WriteRegister(int offset, byte value)
    {
        if (offset == 0) { WriteCommand(value); return; }
        switch (Page)
        {
            case 0:
                switch (offset)
                {
                    case 0x01: _pstart = value; Wake(); break;
                    case 0x02: _pstop = value; Wake(); break;
                    case 0x03: _bnry = value; Wake(); break;
                    case 0x04: _tpsr = value; break;
                    case 0x05: _tbcr = (ushort)((_tbcr & 0xFF00) | value); break;
                    case 0x06: _tbcr = (ushort)((_tbcr & 0x00FF) | value << 8); break;
                    case 0x07: _isr &= (byte)~(value & 0x7F); break; // write 1 to clear; RST clears on start
                    case 0x08: _rsar = (ushort)((_rsar & 0xFF00) | value); break;
                    case 0x09: _rsar = (ushort)((_rsar & 0x00FF) | value << 8); break;
                    case 0x0A: _rbcr = (ushort)((_rbcr & 0xFF00) | value); break;
                    case 0x0B: _rbcr = (ushort)((_rbcr & 0x00FF) | value << 8); break;
                    case 0x0C: _rcr = (byte)(value & 0x3F); SyncFilter(); Wake(); break;
                    case 0x0D: _tcr = (byte)(value & 0x1F); break;
                    case 0x0E: _dcr = (byte)(value & 0x7F); break;
                    case 0x0F: _imr = (byte)(value & 0x7F); break;
                }
                break;
            case 1:
                if (offset <= 6) { _par[offset - 1] = value; SyncFilter(); }
                else if (offset == 7) { _curr = value; Wake(); }
                else { _mar[offset - 8] = value; SyncFilter(); }
                break;
            default:
                break; // page 2 is for diagnostics (read only here), page 3 has nothing to configure
        }
    }

    private void WriteCommand(byte value)
    {
        // TXP only ever set by the guest; it reads back set until the frame is out (at once here).
        _cr = (byte)(value & ~CrTransmit);
        if ((value & CrStop) != 0) { Wake(); return; }
        _isr &= unchecked((byte)~IsrReset);
        int remote = value & CrRemoteMask;
        if ((remote == CrRemoteRead || remote == CrRemoteWrite) && _rbcr == 0) _isr |= IsrRemoteDone;
        if ((value & CrTransmit) != 0) TransmitBuffer();
        Wake();
    }

    private void SyncFilter()
    {
        Filter.SetExact(0, new MacAddress(_par), true);
        uint low = (uint)(_mar[0] | _mar[1] << 8 | _mar[2] << 16 | _mar[3] << 24);
        uint high = (uint)(_mar[4] | _mar[5] << 8 | _mar[6] << 16 | _mar[7] << 24);
        Filter.SetHashWord(0, low);
        Filter.SetHashWord(1, high);
        Filter.AcceptBroadcast = (_rcr & RcrBroadcast) != 0;
        Filter.MulticastHashEnabled = (_rcr & RcrMulticast) != 0;
        Filter.PromiscuousUnicast = (_rcr & RcrPromiscuous) != 0;
        Filter.AllMulticast = false;
    }

    // ---------------------------------------------------------------- remote DMA

    private void DataPortRead(Span<byte> data)
    {
        if ((_dcr & DcrWordTransfer) != 0)
        {
            // Word mode: every access moves whole words; a byte read gets the low byte of one.
            if (data.Length == 1) { data[0] = (byte)ReadWord(); return; }
            for (int i = 0; i + 1 < data.Length; i += 2)
            {
                ushort w = ReadWord();
                data[i] = (byte)w;
                data[i + 1] = (byte)(w >> 8);
            }
        }
        else
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = ReadMemory(_rsar);
                AdvanceRemote(1);
            }
        }
    }

    private void DataPortWrite(ReadOnlySpan<byte> data)
    {
        if ((_dcr & DcrWordTransfer) != 0)
        {
            if (data.Length == 1) { WriteWord(data[0]); return; }
            for (int i = 0; i + 1 < data.Length; i += 2) WriteWord((ushort)(data[i] | data[i + 1] << 8));
        }
        else
        {
            for (int i = 0; i < data.Length; i++)
            {
                WriteMemory(_rsar, data[i]);
                AdvanceRemote(1);
            }
        }
    }

    private ushort ReadWord()
    {
        int address = _rsar & ~1;
        ushort w = (ushort)(ReadMemory(address) | ReadMemory(address + 1) << 8);
        AdvanceRemote(2);
        return w;
    }

    private void WriteWord(ushort value)
    {
        int address = _rsar & ~1;
        WriteMemory(address, (byte)value);
        WriteMemory(address + 1, (byte)(value >> 8));
        AdvanceRemote(2);
    }

    /// <summary>Moves the remote DMA address on (wrapping from PSTOP to PSTART, as the receive ring does) and counts RBCR down.</summary>
    private void AdvanceRemote(int bytes)
    {
        int next = (_rsar + bytes) & 0xFFFF;
        if (_pstop != 0 && next == _pstop << 8) next = _pstart << 8;
        _rsar = (ushort)next;
        if (_rbcr <= bytes)
        {
            if (_rbcr != 0) _isr |= IsrRemoteDone;
            _rbcr = 0;
        }
        else
        {
            _rbcr -= (ushort)bytes;
        }
    }

    private byte ReadMemory(int address)
    {
        if ((uint)address < PromSize) return _prom[address];
        int i = address - MemoryStart;
        return (uint)i < MemorySize ? _memory[i] : (byte)0xFF;
    }

    private void WriteMemory(int address, byte value)
    {
        int i = address - MemoryStart;
        if ((uint)i < MemorySize) _memory[i] = value;
    }

    // ---------------------------------------------------------------- transmit

    private void TransmitBuffer()
    {
        int start = (_tpsr << 8) - MemoryStart;
        int length = _tbcr;
        if (Stopped || start < 0 || length == 0 || length > MaxFrame + 4 || start + length > MemorySize)
        {
            if (Faults.ShouldLog())
                Context.Log.LogWarning("ne2000: transmit from page 0x{Page:x2} of {Length} bytes refused", _tpsr, length);
            Counters.TxErrors++;
            _tsr = TsrAborted;
            _isr |= IsrTxError;
            return;
        }
        // Back to our own receiver in loopback (LoopingBack), else to the port; a dropped frame still
        // completes, as on a cable without carrier.
        Transmit(_memory.AsSpan(start, length));
        _tsr = TsrTransmitted;
        _isr |= IsrTx;
    }

    // ---------------------------------------------------------------- receive

    private static int PagesFor(int frameLength) => 1 + ((frameLength + 4) >> 8); // ne2k: next = this + 1 + ((len + 4) >> 8)

    /// <summary>Whole pages the chip may still write from CURR without reaching BNRY.</summary>
    private int FreePages()
    {
        int ring = _pstop - _pstart;
        int curr = _curr, bnry = _bnry;
        if (curr < _pstart || curr >= _pstop) return 0;
        if (bnry < _pstart || bnry >= _pstop) bnry = _pstop - 1;
        return curr < bnry ? bnry - curr : ring - (curr - bnry);
    }

    private void Deliver(ReadOnlySpan<byte> frame)
    {
        if (Stopped || (_rcr & RcrMonitor) != 0) { Counters.RxDisabled++; return; }
        if (frame.Length > MaxFrame) { Counters.RxTooLong++; return; }
        var verdict = Filter.Accept(frame);
        if (!verdict.IsAccepted()) { Counters.CountRejected(verdict); return; }
        if (!RingValid)
        {
            if (Faults.ShouldLog())
                Context.Log.LogWarning("ne2000: receive ring 0x{Start:x2}-0x{Stop:x2} is invalid", _pstart, _pstop);
            Counters.RxNoBuffer++;
            return;
        }

        int length = Math.Max(frame.Length, MinFrame);
        int pages = PagesFor(length);
        if (pages >= FreePages())
        {
            Counters.RxNoBuffer++;
            _isr |= IsrOverwrite;
            return;
        }

        // Build header + (padded) frame, then copy into the ring, wrapping at PSTOP.
        int total = length + 4;
        int next = _curr + pages;
        if (next >= _pstop) next -= _pstop - _pstart;
        byte status = (byte)(RsrReceivedOk | ((frame[0] & 1) != 0 ? RsrPhysical : 0));
        Span<byte> header = stackalloc byte[4];
        header[0] = status;
        header[1] = (byte)next;
        header[2] = (byte)total;
        header[3] = (byte)(total >> 8);

        int address = _curr << 8;
        int ringStart = _pstart << 8, ringEnd = _pstop << 8;
        for (int i = 0; i < total; i++)
        {
            byte b = i < 4 ? header[i] : (i - 4 < frame.Length ? frame[i - 4] : (byte)0);
            WriteMemory(address, b);
            if (++address >= ringEnd) address = ringStart;
        }
        _curr = (byte)next;
        _rsr = status;
        _isr |= IsrRx;
        Counters.CountDelivered(frame);
    }

    // ---------------------------------------------------------------- reset and interrupt

    /// <summary>The reset port: stopped, remote DMA aborted, ISR RST; the rest as the driver left it.</summary>
    private void SoftReset()
    {
        _cr = (byte)(CrStop | 0x20);
        _isr = IsrReset;
        _imr = 0;
        _tcr = 0;
        _rbcr = 0;
        Wake();
    }

    private void PowerOnReset()
    {
        Array.Clear(_memory);
        Array.Clear(_mar);
        for (int i = 0; i < 6; i++) _par[i] = _prom[2 * i];
        _dcr = _rcr = _rsr = _tsr = 0;
        _pstart = _pstop = _bnry = _curr = _tpsr = 0;
        _tbcr = _rsar = 0;
        Filter.Reset();
        Filter.BroadcastUsesGroupFilters = false;
        SyncFilter();
        SoftReset();
        UpdateInterrupt();
    }

    private void UpdateInterrupt()
    {
        // Before the PCI function exists there is nobody to tell.
        if (_attached) Context.Interrupts.SetLevel(0, (_isr & _imr & 0x7F) != 0);
    }

    /// <summary>Ring pointers or receive state changed: wake a port thread held back by <see cref="CanReceive"/>.</summary>
    private void Wake()
    {
        // Only under the device lock, which every path after attachment holds (the constructor does not).
        if (_attached) ReceiveRoomAvailable();
    }
}
