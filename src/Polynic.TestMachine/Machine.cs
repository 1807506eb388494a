using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Polynic.Core.Pci;

namespace Polynic.TestMachine;

/// <summary>
/// An in-process stand-in for a VMM: guest RAM, one PCI bus and an interrupt controller per
/// function. Unit tests, fuzzers and micro-benchmarks drive devices through it exactly as a
/// guest driver would (config cycles, MMIO and port I/O by bus address), without QEMU.
/// </summary>
public sealed class Machine
{
    private const ulong MmioWindow = 0xE000_0000;
    private const ulong IoWindow = 0xC000;
    private readonly List<PciFunction> _functions = [];
    private readonly List<InterruptLog> _interrupts = [];
    private readonly ILoggerFactory? _loggerFactory;
    private ulong _nextMmio = MmioWindow;
    private ulong _nextIo = IoWindow;

    /// <summary>Creates a machine with <paramref name="ramSize"/> bytes of RAM at address 0.</summary>
    public Machine(int ramSize = 16 << 20, ILoggerFactory? loggerFactory = null)
    {
        Ram = new GuestRam(ramSize);
        _loggerFactory = loggerFactory;
    }

    /// <summary>Guest RAM.</summary>
    public GuestRam Ram { get; }

    /// <summary>Plugs a device into the next slot, connects it to RAM and an interrupt controller, and returns its slot.</summary>
    public int Plug(IPciDevice device, string? name = null)
    {
        int slot = _functions.Count;
        var function = new PciFunction(device, name ?? $"slot{slot}", _loggerFactory);
        var log = new InterruptLog();
        function.Connect(Ram, log);
        _functions.Add(function);
        _interrupts.Add(log);
        return slot;
    }

    /// <summary>The function in <paramref name="slot"/>.</summary>
    public PciFunction Function(int slot) => _functions[slot];

    /// <summary>What the interrupt controller saw from <paramref name="slot"/>.</summary>
    public InterruptLog Interrupts(int slot) => _interrupts[slot];

    /// <summary>Reads a config register of 1, 2 or 4 bytes.</summary>
    public uint ConfigRead(int slot, int offset, int width = 4)
    {
        Span<byte> b = stackalloc byte[4];
        if (!_functions[slot].ReadConfig(offset, b[..width])) return uint.MaxValue;
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>Writes a config register of 1, 2 or 4 bytes.</summary>
    public void ConfigWrite(int slot, int offset, uint value, int width = 4)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _functions[slot].WriteConfig(offset, b[..width]);
    }

    /// <summary>
    /// Does what firmware does at boot: sizes every BAR, assigns it a naturally aligned address
    /// and enables I/O, memory and bus mastering. Returns the base address of each BAR (index by BAR number; 0 if absent).
    /// </summary>
    public ulong[] Enumerate(int slot)
    {
        var bases = new ulong[6];
        foreach (var bar in _functions[slot].Definition.Bars)
        {
            int at = 0x10 + 4 * bar.Index;
            ConfigWrite(slot, at, 0xFFFF_FFFF);
            uint low = ConfigRead(slot, at);
            ulong mask = bar.Kind == BarKind.Io ? low & ~3u : low & ~0xFu;
            if (bar.Kind == BarKind.Memory64)
            {
                ConfigWrite(slot, at + 4, 0xFFFF_FFFF);
                mask |= (ulong)ConfigRead(slot, at + 4) << 32;
            }
            else
            {
                mask |= 0xFFFF_FFFF_0000_0000;
            }
            ulong size = ~mask + 1;
            ref ulong next = ref bar.Kind == BarKind.Io ? ref _nextIo : ref _nextMmio;
            ulong address = (next + size - 1) & ~(size - 1);
            next = address + size;
            ConfigWrite(slot, at, (uint)address);
            if (bar.Kind == BarKind.Memory64) ConfigWrite(slot, at + 4, (uint)(address >> 32));
            bases[bar.Index] = address;
        }
        ConfigWrite(slot, 0x04, 0x7, width: 2);
        return bases;
    }

    /// <summary>Memory read by bus address; unclaimed addresses read as all ones (master abort).</summary>
    public uint MmioRead(ulong address, int width = 4) => BusRead(address, width, ioSpace: false);

    /// <summary>Memory write by bus address; unclaimed addresses are ignored.</summary>
    public void MmioWrite(ulong address, uint value, int width = 4) => BusWrite(address, value, width, ioSpace: false);

    /// <summary>Port read.</summary>
    public uint IoRead(ulong port, int width = 4) => BusRead(port, width, ioSpace: true);

    /// <summary>Port write.</summary>
    public void IoWrite(ulong port, uint value, int width = 4) => BusWrite(port, value, width, ioSpace: true);

    private uint BusRead(ulong address, int width, bool ioSpace)
    {
        Span<byte> b = stackalloc byte[4];
        foreach (var f in _functions)
        {
            if (f.TryDecode(address, ioSpace, out int bar, out ulong offset))
            {
                f.ReadBar(bar, offset, b[..width]);
                return BinaryPrimitives.ReadUInt32LittleEndian(b);
            }
        }
        return width == 4 ? uint.MaxValue : (1u << (8 * width)) - 1;
    }

    private void BusWrite(ulong address, uint value, int width, bool ioSpace)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        foreach (var f in _functions)
        {
            if (f.TryDecode(address, ioSpace, out int bar, out ulong offset))
            {
                f.WriteBar(bar, offset, b[..width]);
                return;
            }
        }
    }
}
