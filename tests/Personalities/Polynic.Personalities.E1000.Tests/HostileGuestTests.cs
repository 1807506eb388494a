using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.TestMachine;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.TransmitDescriptor;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// A guest that programs nonsense: every case is counted, never throws, never loops without
/// bound, and leaves a device that still passes normal traffic after a reset, while a second
/// NIC on the same machine does not notice.
/// </summary>
public class HostileGuestTests : IDisposable
{
    private readonly Machine _machine = new(ramSize: 16 << 20);
    private readonly E1000Rig _rig;
    private readonly E1000Rig _neighbour;

    public HostileGuestTests() : this(i82574: false) { }

    /// <summary>The same suite against another part of the family (the 82574L's legacy-descriptor mode, <see cref="E1000eHostileGuestTests"/>).</summary>
    protected HostileGuestTests(bool i82574)
    {
        _rig = new E1000Rig(machine: _machine, i82574: i82574);
        _neighbour = new E1000Rig(machine: _machine);
    }

    protected E1000Rig Rig => _rig;

    public void Dispose()
    {
        _rig.Dispose();
        _neighbour.Dispose();
    }

    private NicCounters C => _rig.Nic.Counters;

    [Fact]
    public void Transmit_head_or_tail_beyond_the_ring()
    {
        _rig.SetupTx(16);
        _rig.Write(Tdt, 17);
        _rig.Write(Tdh, 0xFFFF);
        _rig.Write(Tdt, 3);
        Assert.True(C.DescriptorFaults >= 2);
        Assert.Empty(_rig.Wire.Frames);
        AssertStillWorks();
    }

    [Fact]
    public void Receive_head_or_tail_beyond_the_ring()
    {
        _rig.SetupRx(16);
        _rig.Write(Rdt, 500);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        _rig.Write(Rdt, 5);
        _rig.Write(Rdh, 40);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        Assert.Equal(2, C.DescriptorFaults);
        // Each frame waited in the packet buffer; the first went to the guest once RDT made sense again.
        Assert.Equal(1, _rig.Nic.Receiver.Waiting);
        Assert.Equal(1, C.RxFrames);
        AssertStillWorks();
    }

    [Fact]
    public void Ring_length_zero_or_unaligned()
    {
        _rig.SetupTx(16);
        _rig.Write(Tdlen, 0);
        _rig.Write(Tdt, 4);
        Assert.Equal(1, C.DescriptorFaults);
        _rig.Write(Tdlen, 0x1001);
        Assert.Equal(0x1000u, _rig.Read(Tdlen));   // RDLEN/TDLEN bits 6:0 do not exist: always whole 128-byte blocks
        _rig.SetupRx(16);
        _rig.Write(Rdlen, 0);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        Assert.Equal(1, _rig.Nic.Receiver.Waiting);
        AssertStillWorks();
    }

    [Fact]
    public void Descriptor_rings_outside_guest_memory()
    {
        _rig.SetupTx(16);
        _rig.SetupRx(16);
        _rig.Write(Tdbah, 0xFFFF_FFFF);
        _rig.Write(Tdbal, 0xFFFF_FF00);   // the ring wraps the 64-bit address space
        _rig.Write(Tdt, 15);
        _rig.Write(Rdbal, 0x0FF0_0000);   // beyond 16 MiB of RAM
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        Assert.Equal(15u, _rig.Read(Tdh));   // walked once around, not forever
        Assert.True(C.DescriptorFaults >= 16);
        AssertStillWorks();
    }

    [Fact]
    public void Buffers_outside_guest_memory()
    {
        _rig.SetupTx(16);
        _rig.QueueTx(0xFFFF_FFFF_FFFF_FF00, 1000 | CmdEop | CmdRs, 0);
        _rig.Doorbell();
        Assert.Equal(1, C.DmaFaults);
        Assert.Equal(1, C.TxErrors);
        Assert.True(_rig.TxDone(0));
        Assert.Empty(_rig.Wire.Frames);

        _rig.SetupRx(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_rig.Ram(E1000Rig.RxRing, 8), 0x7FFF_0000);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        var d = _rig.Ram(E1000Rig.RxRing, 16);
        Assert.Equal(ReceivePath.StatusDd | ReceivePath.StatusEop, d[12] & 3);
        Assert.Equal(ReceivePath.ErrorRxe, d[13] & ReceivePath.ErrorRxe);
        Assert.Equal(2, C.DmaFaults);
        AssertStillWorks();
    }

    [Fact]
    public void Zero_length_descriptors_complete_without_sending()
    {
        _rig.SetupTx(16);
        for (int i = 0; i < 10; i++) _rig.QueueTx(0, CmdEop | CmdRs, 0);
        _rig.Doorbell();
        Assert.Empty(_rig.Wire.Frames);
        Assert.True(_rig.TxDone(9));
        AssertStillWorks();
    }

    [Fact]
    public void Huge_lengths_and_endless_chains_without_eop_are_bounded()
    {
        _rig.SetupTx(256);
        // A data descriptor claiming 1 MiB, then a ring full of descriptors without EOP, kicked many times around.
        _rig.QueueTx(0x1000, 0xF_FFFF | CmdDext | DtypData, 0);
        for (int kick = 0; kick < 20; kick++)
        {
            for (int i = 0; i < 255; i++) _rig.QueueTx(0x1000, 4096, 0);
            _rig.Doorbell();
        }
        Assert.Empty(_rig.Wire.Frames);
        _rig.QueueTx(0x1000, 100 | CmdEop | CmdRs, 0);
        _rig.Doorbell();
        Assert.Empty(_rig.Wire.Frames);   // the end of the oversized packet: discarded
        Assert.Equal(1, C.TxErrors);
        AssertStillWorks();
    }

    [Theory]
    [InlineData(200, 1448)]   // header length beyond the headers
    [InlineData(54, 0)]       // MSS 0
    [InlineData(54, 1)]       // 20000 segments
    [InlineData(0, 1448)]     // no header at all
    public void Tso_with_absurd_parameters_is_refused_and_counted(byte hdrLen, ushort mss)
    {
        _rig.SetupTx(16);
        var frame = Frames.Tcp(Frames.Peer, E1000Rig.Mac, new byte[20000]);
        frame.CopyTo(_rig.Ram(0x60_0000, frame.Length));
        _rig.QueueTx(14 | 24UL << 8 | 33UL << 16 | 34UL << 32 | 50UL << 40, 20000u | CmdDext | ContextTcp | ContextIp | CmdTse, (uint)hdrLen << 8 | (uint)mss << 16);
        _rig.QueueTx(0x60_0000, (uint)frame.Length | CmdDext | DtypData | CmdTse | CmdEop | CmdRs, (uint)(PoptsTxsm | PoptsIxsm) << 8);
        _rig.Doorbell();
        Assert.Empty(_rig.Wire.Frames);
        Assert.Equal(1u, _rig.Read(Statistics.Tsctfc));
        Assert.Equal(1, C.TxErrors);
        AssertStillWorks();
    }

    [Fact]
    public void Random_register_writes_never_fail_the_function()
    {
        var random = new Random(1234);
        for (int i = 0; i < 20000; i++)
        {
            uint offset = (uint)random.Next(0, 0x20000) & ~3u;
            if (offset is Ctrl) continue;   // resets are fine but would hide the rest
            uint value = (uint)random.NextInt64(0, 1L << 32);
            _rig.Write(offset, value);
            if (i % 7 == 0) _rig.Read((uint)random.Next(0, 0x20000) & ~3u);
            if (i % 11 == 0) _rig.IoWrite((uint)random.Next(0, 16) * 4 % 64, value);
            if (i % 13 == 0) _rig.Inject(Frames.Raw(random.Next(2) == 0 ? E1000Rig.Mac : MacAddress.Broadcast, random.Next(14, 9000)));
        }
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
        AssertStillWorks();
    }

    /// <summary>After a reset the device passes normal traffic, and the neighbour was never disturbed.</summary>
    protected void AssertStillWorks()
    {
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
        foreach (var rig in new[] { _rig, _neighbour })
        {
            rig.LinuxResetHw();
            rig.Wire.Clear();
            rig.SetupRx(16);
            rig.SetupTx(16);
            var frame = Frames.Raw(Frames.Peer, 200, seed: 42);
            uint index = rig.TransmitLegacy(frame);
            Assert.True(rig.TxDone(index));
            Assert.Equal(frame, Assert.Single(rig.Wire.Frames));
            var incoming = Frames.Raw(E1000Rig.Mac, 300, seed: 43);
            rig.Inject(incoming);
            var got = rig.ReceiveFrame(out _);
            Assert.NotNull(got);
            Assert.Equal(incoming, got[..300]);
        }
        Assert.Equal(0, _neighbour.Nic.Counters.DescriptorFaults + _neighbour.Nic.Counters.DmaFaults + _neighbour.Nic.Counters.TxErrors);
    }
}
