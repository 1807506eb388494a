using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Polynic.Core.Nic;
using Polynic.Personalities.E1000;
using Polynic.TestMachine;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Benchmarks;

/// <summary>
/// The e1000 and e1000e personalities' frame paths on one core, in the in-process machine (no VMM, no
/// socket): transmit = the guest bumps TDT over a ring of ready legacy descriptors and the
/// device fetches, gathers and hands each frame to a port; receive = a port delivers frames
/// and the device fills receive descriptors and buffers. One operation = one frame.
/// </summary>
[MemoryDiagnoser]
public class E1000DataPathBenchmark
{
    private const int Ring = 256;

    // Legacy transmit descriptor command byte (8254x SDM 3.3.3): EOP (bit 24), IFCS (25), RS (27).
    private const uint LegacyEopIfcsRs = (1u << 24) | (1u << 25) | (1u << 27);
    private const ulong TxRing = 0x1_0000, RxRing = 0x2_0000, Buffers = 0x10_0000;
    private Machine _machine = null!;
    private E1000Device _nic = null!;
    private IPortReceiver _wire = null!;
    private ulong _mmio;
    private byte[] _frame = null!;
    private uint _tail;
    private ScrapeLoop? _scrape;

    [Params(64, 1500)]
    public int FrameSize { get; set; }

    /// <summary>The 82540EM (e1000) or the 82574L (e1000e, with the extended receive descriptors Linux e1000e uses).</summary>
    [Params("e1000", "e1000e")]
    public string Part { get; set; } = "e1000";

    [GlobalSetup]
    public void Setup()
    {
        _scrape = ScrapeLoop.StartIfAsked();
        _machine = new Machine(ramSize: 16 << 20);
        var settings = new NicSettings(MacAddress.Parse("52:54:00:12:34:56"));
        _nic = Part == "e1000e" ? E1000Device.Create82574L(settings) : new E1000Device(settings);
        _nic.AttachPort(new DiscardPort());
        int slot = _machine.Plug(_nic);
        _mmio = _machine.Enumerate(slot)[0];
        _wire = _nic;
        _frame = new byte[FrameSize];
        new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00 }.CopyTo(_frame, 0);

        // Transmit ring: every descriptor a complete frame (EOP|IFCS|RS), buffers pre-filled.
        for (int i = 0; i < Ring; i++)
        {
            ulong buffer = Buffers + (ulong)i * 2048;
            _frame.CopyTo(_machine.Ram.Span(buffer, FrameSize));
            var d = _machine.Ram.Span(TxRing + (ulong)i * 16, 16);
            BinaryPrimitives.WriteUInt64LittleEndian(d, buffer);
            BinaryPrimitives.WriteUInt32LittleEndian(d[8..], (uint)FrameSize | LegacyEopIfcsRs);
        }
        Write(Tdbal, (uint)TxRing);
        Write(Tdlen, Ring * 16);
        Write(Tctl, E1000Bits.TctlEn);

        // Receive ring: 2 KiB buffers, promiscuous so every frame is taken.
        for (int i = 0; i < Ring; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(_machine.Ram.Span(RxRing + (ulong)i * 16, 8), Buffers + 0x20_0000 + (ulong)i * 2048);
        Write(Rdbal, (uint)RxRing);
        Write(Rdlen, Ring * 16);
        Write(Rdt, Ring - 1);
        if (Part == "e1000e") Write(E1000eRegisters.Rfctl, E1000eBits.RfctlExtendedStatus);
        Write(Rctl, E1000Bits.RctlEn | E1000Bits.RctlUpe | E1000Bits.RctlBam);
    }

    private void Write(uint register, uint value) => _machine.MmioWrite(_mmio + register, value);

    /// <summary>255 frames per call: the guest fills the ring and rings the doorbell once.</summary>
    [Benchmark(OperationsPerInvoke = Ring - 1)]
    public void Transmit()
    {
        _tail = (_tail + Ring - 1) % Ring;
        Write(Tdt, _tail);
    }

    /// <summary>255 frames per call into a ring the guest has just refilled.</summary>
    [Benchmark(OperationsPerInvoke = Ring - 1)]
    public void Receive()
    {
        for (int i = 0; i < Ring - 1; i++) _wire.Receive(_frame);
        // The guest hands the used descriptors back (one RDT write), as a NAPI poll does.
        Write(Rdt, (uint)((_machine.MmioRead(_mmio + Rdh) + Ring - 1) % Ring));
    }

    [GlobalCleanup]
    public void Cleanup() => _scrape?.Dispose();
}
