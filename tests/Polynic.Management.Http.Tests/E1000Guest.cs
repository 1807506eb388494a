using System.Buffers.Binary;
using Polynic.Core.Pci;
using Polynic.TestMachine;

namespace Polynic.Management.Http.Tests;

/// <summary>
/// A guest driver in the test process for an e1000 the server host serves: it connects the host's
/// PCI function to guest RAM (as a VMM would over vfio-user), sets up one transmit and one receive
/// ring the way Linux e1000 does, sends frames and counts the ones it received. The personality is
/// a run-time module, so its register map is written out here (8254x SDM, 13.4).
/// </summary>
internal sealed class E1000Guest
{
    private const uint Rctl = 0x0100, Tctl = 0x0400;
    private const uint Rdbal = 0x2800, Rdbah = 0x2804, Rdlen = 0x2808, Rdh = 0x2810, Rdt = 0x2818;
    private const uint Tdbal = 0x3800, Tdbah = 0x3804, Tdlen = 0x3808, Tdh = 0x3810, Tdt = 0x3818;
    private const uint RctlEn = 1u << 1, RctlBam = 1u << 15, TctlEn = 1u << 1, TctlPsp = 1u << 3;
    private const uint CmdEop = 1u << 24, CmdIfcs = 1u << 25, CmdRs = 1u << 27;
    private const ulong TxRing = 0x1_0000, RxRing = 0x2_0000, TxBuffers = 0x10_0000, RxBuffers = 0x20_0000;
    private const int Descriptors = 64;

    private readonly PciFunction _function;
    private readonly GuestRam _ram = new(4 << 20);
    private uint _txTail;
    private uint _rxNext;

    public E1000Guest(PciFunction function)
    {
        _function = function;
        function.Connect(_ram, new InterruptLog());
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 0xE000_0000);
        function.WriteConfig(0x10, b);
        // Memory space, I/O space and bus mastering (DMA).
        function.WriteConfig(0x04, [0x07, 0x00]);

        _ram.Span(TxRing, Descriptors * 16).Clear();
        Write(Tdbal, (uint)TxRing);
        Write(Tdbah, 0);
        Write(Tdlen, Descriptors * 16);
        Write(Tdh, 0);
        Write(Tdt, 0);
        Write(Tctl, TctlEn | TctlPsp);

        _ram.Span(RxRing, Descriptors * 16).Clear();
        for (int i = 0; i < Descriptors; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(_ram.Span(RxRing + (ulong)i * 16, 8), RxBuffers + (ulong)i * 2048);
        Write(Rdbal, (uint)RxRing);
        Write(Rdbah, 0);
        Write(Rdlen, Descriptors * 16);
        Write(Rdh, 0);
        Write(Rdt, Descriptors - 1);
        Write(Rctl, RctlEn | RctlBam);
    }

    /// <summary>Frames the guest took off its receive ring so far.</summary>
    public int Received { get; private set; }

    /// <summary>Sends <paramref name="frame"/> in one legacy descriptor and waits for the NIC to write it back.</summary>
    public void Transmit(ReadOnlySpan<byte> frame)
    {
        uint index = _txTail;
        ulong buffer = TxBuffers + index * 2048UL;
        frame.CopyTo(_ram.Span(buffer, frame.Length));
        var d = _ram.Span(TxRing + index * 16UL, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, buffer);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], (uint)frame.Length | CmdEop | CmdIfcs | CmdRs);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 0);
        _txTail = (_txTail + 1) % Descriptors;
        Write(Tdt, _txTail);
        if ((_ram.Span(TxRing + index * 16UL + 12, 1)[0] & 1) == 0) throw new InvalidOperationException("the NIC did not write the transmit descriptor back");
    }

    /// <summary>Takes every completed receive descriptor off the ring and gives it back to the NIC.</summary>
    public int Poll()
    {
        int taken = 0;
        while (true)
        {
            var d = _ram.Span(RxRing + _rxNext * 16UL, 16);
            if ((d[12] & 1) == 0) return taken;
            d[12] = 0;
            Write(Rdt, _rxNext);
            _rxNext = (_rxNext + 1) % Descriptors;
            Received++;
            taken++;
        }
    }

    private void Write(uint register, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _function.WriteBar(0, register, b);
    }
}
