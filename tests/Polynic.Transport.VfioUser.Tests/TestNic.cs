using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Core.Pci;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>
/// A tiny device for transport tests: BAR0 is a 4 KiB register file; writing
/// <see cref="CommandRegister"/> runs a command on the registers at 0x100.. (DMA address,
/// length, vector) so a test can drive DMA and interrupts through REGION_WRITE alone.
/// </summary>
public sealed class TestNic : IPciDevice
{
    public const ulong DmaAddressRegister = 0x100;
    public const ulong DmaLengthRegister = 0x108;
    public const ulong CommandRegister = 0x110;
    public const ulong VectorRegister = 0x118;
    public const ulong StatusRegister = 0x120;
    public const int DmaBuffer = 0x200;

    public const ulong CommandDmaToGuest = 1;
    public const ulong CommandDmaFromGuest = 2;
    public const ulong CommandRaiseIntx = 3;
    public const ulong CommandLowerIntx = 4;
    public const ulong CommandNotify = 5;

    private readonly byte[] _registers = new byte[4096];

    /// <summary>
    /// The device's lock, held for every register access as a NIC holds its own; a test's
    /// "device thread" takes it too, as a port thread does when it delivers a frame.
    /// </summary>
    public object Sync { get; } = new();

    public PciFunctionDefinition Definition { get; } = new()
    {
        Identity = new PciIdentity(0x1234, 0x5678, 0x020000, Revision: 1),
        Bars =
        [
            new BarDefinition(0, BarKind.Memory32, 4096),
            new BarDefinition(1, BarKind.Io, 32),
            new BarDefinition(2, BarKind.Memory64, 4096),
        ],
        Msix = new MsixCapability(4, TableBar: 2, TableOffset: 0, PbaBar: 2, PbaOffset: 0x800),
    };

    public IPciDeviceContext Context { get; private set; } = null!;

    public int Resets { get; private set; }

    public void Attach(IPciDeviceContext context) => Context = context;

    public void ReadBar(int bar, ulong offset, Span<byte> data)
    {
        lock (Sync) ReadRegisters(bar, offset, data);
    }

    public void WriteBar(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        lock (Sync) WriteRegisters(bar, offset, data);
    }

    private void ReadRegisters(int bar, ulong offset, Span<byte> data)
    {
        if (bar == 0) _registers.AsSpan((int)offset, data.Length).CopyTo(data);
        else data.Clear();
    }

    private void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar != 0) return;
        data.CopyTo(_registers.AsSpan((int)offset));
        if (offset == CommandRegister) Execute(BinaryPrimitives.ReadUInt64LittleEndian(data));
    }

    public void Reset()
    {
        Resets++;
        Array.Clear(_registers);
    }

    private void Execute(ulong command)
    {
        var address = new GuestAddress(Register(DmaAddressRegister));
        int length = (int)Math.Min(Register(DmaLengthRegister), 1024);
        var buffer = _registers.AsSpan(DmaBuffer, length);
        bool ok = command switch
        {
            CommandDmaToGuest => Context.Dma.TryWrite(address, buffer),
            CommandDmaFromGuest => Context.Dma.TryRead(address, buffer),
            CommandRaiseIntx => Do(() => Context.Interrupts.SetLevel(0, true)),
            CommandLowerIntx => Do(() => Context.Interrupts.SetLevel(0, false)),
            CommandNotify => Do(() => Context.Interrupts.Notify((int)Register(VectorRegister))),
            _ => false,
        };
        BinaryPrimitives.WriteUInt64LittleEndian(_registers.AsSpan((int)StatusRegister), ok ? 1UL : 2UL);
    }

    private ulong Register(ulong offset) => BinaryPrimitives.ReadUInt64LittleEndian(_registers.AsSpan((int)offset));

    private static bool Do(Action action)
    {
        action();
        return true;
    }
}
