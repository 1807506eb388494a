using System.Buffers.Binary;
using Polynic.Personalities.Rtl8139.Tests.Support;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>A guest that lies: every refusal is counted, nothing throws, the function keeps working.</summary>
public sealed class HostileGuestTests
{
    [Fact]
    public void Bad_transmit_slots_abort_with_TxErr()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode();
        rig.W32(Tsd0, 0x1FFF);                          // larger than the FIFO
        Assert.Equal(0x6000_0000u & 0x4000_0000u, rig.R32(Tsd0) & 0x4000_0000u);
        rig.W32(Tsad0 + 4, 0xFFFF_F000);                 // outside RAM
        rig.W32(Tsd0 + 4, 100);
        Assert.NotEqual(0u, rig.R32(Tsd0 + 4) & 0x4000_0000u);
        Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0008);
        Assert.Equal(1, rig.Nic.Counters.DmaFaults);
        Assert.Empty(rig.Wire.Frames);
        Assert.Null(rig.Machine.Function(rig.Slot).FailureReason);
    }

    [Fact]
    public void A_ring_buffer_outside_RAM_drops_frames_and_counts()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode();
        rig.W32(RbStart, 0xFFFF_0000);
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 100));
        Assert.Equal(1, rig.Nic.Counters.DmaFaults);
        // CAPR anywhere is only arithmetic.
        rig.W16(Capr, 0x1234);
        rig.W32(RbStart, (uint)Rtl8139Rig.RxRing);
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 100));
        Assert.Null(rig.Machine.Function(rig.Slot).FailureReason);
    }

    [Fact]
    public void CPlus_rings_without_an_end_and_outside_RAM_are_bounded_and_counted()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(count: 4);
        // A transmit ring of 1024+ owned descriptors with no RingEnd, all pointing at one buffer.
        var frame = Frames.Raw(Rtl8139Rig.Peer, 64);
        frame.CopyTo(rig.Ram(Rtl8139Rig.TxBuffers, frame.Length));
        for (int i = 0; i < 1100; i++)
        {
            var d = rig.Ram(Rtl8139Rig.TxRing + (ulong)i * 16, 16);
            BinaryPrimitives.WriteUInt32LittleEndian(d, 0xB000_0000u | 64);
            BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Rtl8139Rig.TxBuffers);
        }
        rig.W8(Rtl8139Rig.TxPoll, 0x40);
        Assert.Equal(1024, rig.Wire.Frames.Count);
        Assert.True(rig.Nic.Counters.DescriptorFaults >= 1);
        // Rings and buffers outside RAM.
        rig.W32(Tsad0, 0xFFFF_FF00);
        rig.W32(Tsad0 + 4, 0xFFFF_FFFF);
        rig.W8(Rtl8139Rig.TxPoll, 0x40);
        rig.W32(RdsarHigh, 0x8000_0000);
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 64));
        Assert.True(rig.Nic.Counters.DmaFaults >= 2);
        Assert.Null(rig.Machine.Function(rig.Slot).FailureReason);
    }

    [Fact]
    public void Fragments_without_first_and_buffers_outside_RAM_are_refused()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(count: 4);
        var d = rig.Ram(Rtl8139Rig.TxRing, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(d, 0x9000_0000u | 64);   // OWN | LastFrag, no FirstFrag
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Rtl8139Rig.TxBuffers);
        d = rig.Ram(Rtl8139Rig.TxRing + 16, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(d, 0xB000_0000u | 0xFFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0xFFFF_FFFF_FFFF_0000);
        rig.W8(Rtl8139Rig.TxPoll, 0x40);
        Assert.Empty(rig.Wire.Frames);
        Assert.NotEqual(0u, rig.TxOpts1(0) & 1u << 23);
        Assert.NotEqual(0u, rig.TxOpts1(1) & 1u << 23);
        Assert.Equal(0u, rig.TxOpts1(1) & 0x8000_0000u);
        // A receive descriptor pointing outside RAM is returned with RxError.
        var r = rig.Ram(Rtl8139Rig.RxRing, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(r[8..], 0xFFFF_FFFF_0000_0000);
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 64));
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(rig.Ram(Rtl8139Rig.RxRing, 4)) & 1u << 20);
    }

    [Fact]
    public void Random_register_writes_never_fail_the_function()
    {
        foreach (byte revision in new byte[] { 0x10, 0x20 })
        {
            using var rig = new Rtl8139Rig(revision);
            var random = new Random(8139);
            for (int i = 0; i < 20000; i++)
            {
                uint offset = (uint)random.Next(0, 256);
                int width = 1 << random.Next(0, 3);
                if (random.Next(4) == 0) rig.Machine.MmioRead(rig.Mmio + (offset & ~(uint)(width - 1)), width);
                else rig.Machine.MmioWrite(rig.Mmio + (offset & ~(uint)(width - 1)), (uint)random.Next(), width);
                if (i % 100 == 0) rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 60 + i % 1400));
            }
            Assert.Null(rig.Machine.Function(rig.Slot).FailureReason);
        }
    }
}
