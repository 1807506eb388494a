using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Polynic.Core.Memory;
using Polynic.Core.Pci;
using static Polynic.Personalities.Diagnostic.DiagnosticRegisters;

namespace Polynic.Personalities.Diagnostic;

/// <summary>
/// A PCI function that exists to prove the plumbing end to end: the guest enumerates it,
/// raises INTx/MSI/MSI-X on command through an MMIO register, and has it DMA a known pattern
/// into a buffer (or checksum a buffer) at a guest-physical address it writes into registers.
/// Everything else (config space, capabilities, MSI-X table, interrupt modes) is the core's.
/// </summary>
public sealed class DiagnosticDevice : IPciDevice
{
    /// <summary>Value of the Magic register: "POLY" in ASCII, little endian.</summary>
    public const uint Magic = 0x594C_4F50;

    /// <summary>Largest DMA a single command may move: a bound on the work one register write can cause.</summary>
    public const uint MaxDmaLength = 1 << 20;

    /// <summary>PCI identity of the diagnostic function.</summary>
    public static readonly PciIdentity Identity = new(
        VendorId: 0x1234, DeviceId: 0x7a01, ClassCode: 0xFF0000, Revision: 1,
        SubsystemVendorId: 0x1234, SubsystemId: 0x0001);

    /// <summary>Number of MSI-X vectors (and interrupt sources).</summary>
    public const int Vectors = 4;

    private const int RegisterBarSize = 4096;
    private IPciDeviceContext _context = null!;
    private uint _scratch, _interruptStatus, _interruptCount;
    private ulong _dmaAddress;
    private uint _dmaLength, _dmaSeed, _dmaStatus, _dmaChecksum, _dmaErrors;

    /// <inheritdoc/>
    public PciFunctionDefinition Definition { get; } = new()
    {
        Identity = Identity,
        Bars =
        [
            new BarDefinition(0, BarKind.Memory32, RegisterBarSize),
            new BarDefinition(1, BarKind.Memory32, 4096),
            new BarDefinition(2, BarKind.Io, 64),
        ],
        PowerManagement = new PowerManagementCapability(),
        Msi = new MsiCapability(Vectors: Vectors, Is64Bit: true, PerVectorMasking: true),
        Msix = new MsixCapability(Vectors, TableBar: 1, TableOffset: 0, PbaBar: 1, PbaOffset: 0x800),
    };

    /// <inheritdoc/>
    public void Attach(IPciDeviceContext context) => _context = context;

    /// <inheritdoc/>
    /// <remarks>BAR 2 (I/O) mirrors the first 64 bytes of BAR 0, to exercise I/O decoding.</remarks>
    public void ReadBar(int bar, ulong offset, Span<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        for (int i = 0; i < data.Length; i++)
        {
            ulong at = offset + (ulong)i;
            BinaryPrimitives.WriteUInt32LittleEndian(word, ReadRegister((int)(at & ~3UL)));
            data[i] = word[(int)(at & 3)];
        }
    }

    /// <inheritdoc/>
    /// <remarks>Only aligned 32-bit writes have effect, like most device registers.</remarks>
    public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length != 4 || (offset & 3) != 0) return;
        WriteRegister((int)offset, BinaryPrimitives.ReadUInt32LittleEndian(data));
    }

    /// <inheritdoc/>
    /// <remarks>Interrupt levels are cleared by the core's reset.</remarks>
    public void Reset()
    {
        _scratch = _interruptStatus = _interruptCount = 0;
        _dmaAddress = 0;
        _dmaLength = _dmaSeed = _dmaStatus = _dmaChecksum = _dmaErrors = 0;
    }

    private uint ReadRegister(int offset) => offset switch
    {
        DiagnosticRegisters.Magic => Magic,
        DiagnosticRegisters.Version => 1,
        Scratch => _scratch,
        InterruptStatus => _interruptStatus,
        InterruptCount => _interruptCount,
        DmaAddressLow => (uint)_dmaAddress,
        DmaAddressHigh => (uint)(_dmaAddress >> 32),
        DmaLength => _dmaLength,
        DmaSeed => _dmaSeed,
        DmaStatus => _dmaStatus,
        DmaChecksum => _dmaChecksum,
        DmaErrorCount => _dmaErrors,
        _ => 0,
    };

    private void WriteRegister(int offset, uint value)
    {
        switch (offset)
        {
            case Scratch: _scratch = value; break;
            case InterruptRaise when value < Vectors:
                _interruptStatus |= 1u << (int)value;
                _interruptCount++;
                _context.Interrupts.SetLevel((int)value, true);
                break;
            case InterruptAcknowledge:
                for (int s = 0; s < Vectors; s++)
                {
                    if ((value & _interruptStatus & (1u << s)) == 0) continue;
                    _interruptStatus &= ~(1u << s);
                    _context.Interrupts.SetLevel(s, false);
                }
                break;
            case DmaAddressLow: _dmaAddress = (_dmaAddress & ~0xFFFF_FFFFUL) | value; break;
            case DmaAddressHigh: _dmaAddress = (_dmaAddress & 0xFFFF_FFFFUL) | ((ulong)value << 32); break;
            case DmaLength: _dmaLength = value; break;
            case DmaSeed: _dmaSeed = value; break;
            case DmaCommand: RunDma(value); break;
        }
    }

    private void RunDma(uint command)
    {
        bool ok = command switch
        {
            DmaCommandWritePattern => WritePattern(),
            DmaCommandChecksum => Checksum(),
            _ => false,
        };
        _dmaStatus = DmaStatusDone | (ok ? 0 : DmaStatusError);
        if (!ok)
        {
            _dmaErrors++;
            _context.Log.LogWarning("DMA command {Command} at {Address} length {Length} refused", command, new GuestAddress(_dmaAddress), _dmaLength);
        }
    }

    private bool WritePattern()
    {
        if (_dmaLength is 0 or > MaxDmaLength) return false;
        Span<byte> chunk = stackalloc byte[4096];
        var pattern = new DiagnosticPattern(_dmaSeed);
        for (uint done = 0; done < _dmaLength; done += (uint)chunk.Length)
        {
            var piece = chunk[..(int)Math.Min((uint)chunk.Length, _dmaLength - done)];
            pattern.Fill(piece);
            if (!new GuestAddress(_dmaAddress).TryAdd(done, out var at) || !_context.Dma.TryWrite(at, piece)) return false;
        }
        return true;
    }

    private bool Checksum()
    {
        if (_dmaLength is 0 or > MaxDmaLength) return false;
        Span<byte> chunk = stackalloc byte[4096];
        uint hash = 2166136261;
        for (uint done = 0; done < _dmaLength; done += (uint)chunk.Length)
        {
            var piece = chunk[..(int)Math.Min((uint)chunk.Length, _dmaLength - done)];
            if (!new GuestAddress(_dmaAddress).TryAdd(done, out var at) || !_context.Dma.TryRead(at, piece)) return false;
            foreach (byte b in piece) hash = (hash ^ b) * 16777619;
        }
        _dmaChecksum = hash;
        return true;
    }
}
