using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Personalities.Rtl8139.Tests.Support;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>C mode as 8139too drives it: four transmit slots, the receive ring buffer, CAPR/CBR, ISR/IMR, RxConfig filters.</summary>
public sealed class CModeTests
{
    [Fact]
    public void Transmit_slots_send_in_turn_and_report_OWN_TOK_and_TxOK()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode();
        for (int i = 0; i < 6; i++)
        {
            var frame = Frames.Raw(Rtl8139Rig.Peer, 100 + i, (byte)i);
            int slot = rig.SendC(frame);
            Assert.Equal(frame, rig.Wire.Frames[^1]);
            uint tsd = rig.R32(Tsd0 + 4 * (uint)slot);
            Assert.Equal(0xA000u, tsd & 0xE000);          // OWN | TOK
            Assert.Equal((uint)frame.Length, tsd & 0x1FFF);
            Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0004);
            Assert.True(rig.IntxAsserted);
            rig.W16(Rtl8139Rig.IntrStatus, 0x0004);      // write one to clear
            Assert.False(rig.IntxAsserted);
        }
        Assert.Equal(6, rig.Wire.Frames.Count);
        Assert.Equal(0xF00Fu, rig.R16(TxSummary) & 0xF00Fu);
    }

    [Fact]
    public void Receive_writes_header_frame_and_fcs_and_8139too_reads_it_back_through_CAPR()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode();
        Assert.Equal(0x0D, rig.R8(Rtl8139Rig.ChipCmd));   // RE, TE, buffer empty
        var frame = Frames.Raw(Rtl8139Rig.Mac, 200);
        rig.Inject(frame);
        Assert.Equal(0x0C, rig.R8(Rtl8139Rig.ChipCmd));
        Assert.Equal(0x0001, rig.R16(Rtl8139Rig.IntrStatus) & 0x0001);
        uint header = BinaryPrimitives.ReadUInt32LittleEndian(rig.Ram(Rtl8139Rig.RxRing, 4));
        Assert.Equal(0x4001u, header & 0xFFFF);          // ROK, physical address match
        Assert.Equal(204u, header >> 16);                // length includes the FCS
        uint fcs = BinaryPrimitives.ReadUInt32LittleEndian(rig.Ram(Rtl8139Rig.RxRing + 4 + 200, 4));
        Assert.Equal(EthernetFcs.Compute(frame), fcs);
        Assert.Equal(208, rig.R16(Rtl8139Rig.Cbr));      // next packet dword aligned
        var got = rig.ReceiveC();
        Assert.Equal(frame, got!.Value.Data);
        Assert.Equal(0x0D, rig.R8(Rtl8139Rig.ChipCmd));   // CAPR caught up: empty again
        Assert.Equal((ushort)(208 - 16), rig.R16(Capr));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ring_wraps_with_WRAP_running_past_the_end_and_without_it_splitting_at_the_end(bool wrap)
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode(lengthIndex: 0, wrap: wrap);   // 8 KiB
        for (int i = 0; i < 40; i++)
        {
            var frame = Frames.Raw(Rtl8139Rig.Mac, 300 + i * 7, (byte)i);
            rig.Inject(frame);
            int offset = rig.CurRx % 8192;
            var got = rig.ReceiveC();
            Assert.NotNull(got);
            if (wrap || offset + 4 + frame.Length <= 8192) Assert.Equal(frame, got!.Value.Data);
            else
            {
                // Without WRAP the tail of the packet continues at RBSTART.
                int first = 8192 - offset - 4;
                Assert.Equal(frame.AsSpan(0, first).ToArray(), rig.Ram(Rtl8139Rig.RxRing + (ulong)offset + 4, first).ToArray());
                Assert.Equal(frame.AsSpan(first).ToArray(), rig.Ram(Rtl8139Rig.RxRing, frame.Length - first).ToArray());
            }
        }
        Assert.True(rig.CurRx > 8192, "the test must have wrapped");
    }

    [Fact]
    public void A_full_ring_holds_frames_in_the_fifo_until_CAPR_frees_room_and_then_misses()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode(lengthIndex: 0);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 1000);
        for (int i = 0; i < 8; i++) rig.Inject(frame);   // 8 x 1008 bytes fit in 8 KiB
        rig.Inject(frame);                                // the 9th waits
        Assert.Equal(1, rig.Nic.Receiver.Waiting);
        int received = 0;
        while (rig.ReceiveC() is { } got) { Assert.Equal(frame, got.Data); received++; }
        Assert.Equal(9, received);
        // With the ring full and the FIFO full, and no time to wait for the guest (a port that
        // cannot be held back), frames are missed and counted in MPC.
        rig.Nic.ReceiveBackpressureLimit = TimeSpan.Zero;
        for (int i = 0; i < 100; i++) rig.Inject(frame);
        Assert.True(rig.R32(RxMissed) > 0);
        Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0040);
        rig.W32(RxMissed, 0);
        Assert.Equal(0u, rig.R32(RxMissed));
    }

    [Fact]
    public void RxConfig_and_MAR_filter_unicast_broadcast_and_multicast()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode(accept: 0x02);   // APM only
        var group = MacAddress.FromUInt64(0x01_00_5E_01_02_03);
        rig.Inject(Frames.Raw(MacAddress.Broadcast, 64));
        rig.Inject(Frames.Raw(group, 64));
        rig.Inject(Frames.Raw(Rtl8139Rig.Peer, 64));
        Assert.Null(rig.ReceiveC());
        // AB, AM with the group's bit (ether_crc >> 26) in MAR, as rtl8139_set_rx_mode programs it.
        int bit = MulticastHash.EthernetCrcTop6(group);
        rig.W32(Mar0 + (uint)(bit >> 5) * 4, 1u << (bit & 31));
        rig.W32(RxConfig, rig.R32(RxConfig) | 0x0C);
        rig.Inject(Frames.Raw(MacAddress.Broadcast, 64));
        Assert.Equal(0x2001, rig.ReceiveC()!.Value.Status);
        rig.Inject(Frames.Raw(group, 64));
        Assert.Equal(0x8001, rig.ReceiveC()!.Value.Status);
        rig.Inject(Frames.Raw(MacAddress.FromUInt64(0x01_00_5E_09_09_09), 64));
        Assert.Null(rig.ReceiveC());
        // AAP: every unicast.
        rig.W32(RxConfig, rig.R32(RxConfig) | 0x01);
        rig.Inject(Frames.Raw(Rtl8139Rig.Peer, 64));
        Assert.NotNull(rig.ReceiveC());
    }

    [Fact]
    public void RxOK_stays_set_while_unread_packets_remain_so_a_poll_stopped_by_its_budget_resumes()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode(lengthIndex: 0);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 1000);
        for (int i = 0; i < 12; i++) rig.Inject(frame);   // 8 in the ring, 4 waiting in the FIFO
        // rtl8139_rx: one packet, CAPR, acknowledge; then the budget runs out.
        rig.ReceiveC();
        rig.W16(Rtl8139Rig.IntrStatus, 0x0051);
        Assert.Equal(0x0001, rig.R16(Rtl8139Rig.IntrStatus) & 0x0001);
        int received = 1;
        while (rig.ReceiveC() is not null)
        {
            received++;
            rig.W16(Rtl8139Rig.IntrStatus, 0x0051);
        }
        Assert.Equal(12, received);
        Assert.Equal(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0001);
    }

    [Fact]
    public void Interrupt_line_follows_ISR_and_IMR()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode(mask: 0);
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 64));
        Assert.False(rig.IntxAsserted);
        rig.W16(Rtl8139Rig.IntrMask, 0x0001);
        Assert.True(rig.IntxAsserted);
        rig.W16(Rtl8139Rig.IntrStatus, 0x0004);   // another bit: no change
        Assert.True(rig.IntxAsserted);
        rig.ReceiveC();
        rig.W16(Rtl8139Rig.IntrStatus, 0x0001);
        Assert.False(rig.IntxAsserted);
    }

    [Fact]
    public void Transmitter_loopback_returns_frames_to_the_receiver()
    {
        using var rig = new Rtl8139Rig();
        rig.StartCMode();
        rig.W32(TxConfig, rig.R32(TxConfig) | 3u << 17);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 90);
        rig.SendC(frame);
        Assert.Empty(rig.Wire.Frames);
        Assert.Equal(frame, rig.ReceiveC()!.Value.Data);
    }
}
