using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Personalities.Rtl8139.Tests.Support;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>C+ mode as 8139cp drives it: descriptor rings at TNPDS/RDSAR, TxPoll, checksum offload, VLAN, large send, tally counters.</summary>
public sealed class CPlusModeTests
{
    [Fact]
    public void Transmit_descriptors_are_sent_and_handed_back_around_the_ring()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(count: 4);
        for (int i = 0; i < 10; i++)
        {
            var frame = Frames.Raw(Rtl8139Rig.Peer, 80 + i, (byte)i);
            int entry = rig.TxHead;
            rig.SendCPlus(0, 0, frame);
            Assert.Equal(frame, rig.Wire.Frames[^1]);
            Assert.Equal(0u, rig.TxOpts1(entry) & 0x8080_0000u);   // OWN and TxError clear
            Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0004);
        }
        Assert.Equal(10, rig.Wire.Frames.Count);
        Assert.Equal(2u, rig.Nic.Transmitter.DescriptorIndex);    // 10 mod 4: RingEnd wrapped it
    }

    [Fact]
    public void Fragments_are_gathered_and_checksums_inserted_and_the_vlan_tag_added()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus();
        var frame = Frames.Ip(Rtl8139Rig.Peer, 500, tcp: true, valid: false);
        // IPCS | TCPCS, tag VLAN 5 priority 3 (opts2 holds the TCI byte-swapped, 8139cp cp_tx_vlan_tag).
        ushort tci = 3 << 13 | 5;
        rig.SendCPlus(1u << 18 | 1u << 16, 1u << 17 | BinaryPrimitives.ReverseEndianness(tci), frame[..54], frame[54..300], frame[300..]);
        var sent = Assert.Single(rig.Wire.Frames);
        Assert.Equal(frame.Length + 4, sent.Length);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(12)));
        Assert.Equal(tci, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(14)));
        var inner = new byte[frame.Length];
        sent.AsSpan(0, 12).CopyTo(inner);
        sent.AsSpan(16).CopyTo(inner.AsSpan(12));
        Assert.True(Frames.ChecksumsValid(inner));
        Assert.Equal(Frames.Ip(Rtl8139Rig.Peer, 500, tcp: true), inner);
    }

    [Fact]
    public void Large_send_is_segmented_when_the_port_cannot()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus();
        var frame = Frames.Ip(Rtl8139Rig.Peer, 4000, tcp: true, valid: false);
        rig.SendCPlus(1u << 27 | 1000u << 16, 0, frame);
        Assert.Equal(4, rig.Wire.Frames.Count);
        Assert.All(rig.Wire.Frames, f => Assert.True(Frames.ChecksumsValid(f)));
        Assert.Equal(4000, rig.Wire.Frames.Sum(f => f.Length - 54));
    }

    [Fact]
    public void Receive_fills_owned_descriptors_with_length_fcs_and_checksum_status()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(count: 4);
        for (int i = 0; i < 9; i++)
        {
            var frame = Frames.Ip(Rtl8139Rig.Mac, 100 + i);
            rig.Inject(frame);
            var got = rig.ReceiveCPlus();
            Assert.NotNull(got);
            var (opts1, _, data) = got!.Value;
            Assert.Equal(frame, data);
            Assert.Equal(0x3000_0000u, opts1 & 0x3000_0000u);           // first and last fragment
            Assert.Equal((uint)frame.Length + 4, opts1 & 0x1FFF);
            Assert.Equal(2u, (opts1 >> 16) & 3);                         // UDP/IP
            Assert.Equal(0u, opts1 & (1u << 15 | 1u << 14 | 1u << 20));  // no failures, no error
            Assert.NotEqual(0u, opts1 & 1u << 25);                       // physical address match
        }
        var bad = Frames.Ip(Rtl8139Rig.Mac, 100, tcp: true, valid: false);
        rig.Inject(bad);
        var (o, _, _) = rig.ReceiveCPlus()!.Value;
        Assert.Equal(1u, (o >> 16) & 3);
        Assert.NotEqual(0u, o & (1u << 13 | 1u << 15));
    }

    [Fact]
    public void Vlan_tags_are_stripped_into_opts2_when_RxVlanOn()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(cpcmd: 0x0040 | 0x0002 | 0x0001);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 100);
        rig.Inject(Frames.Tagged(frame, 0x2007));
        var (_, opts2, data) = rig.ReceiveCPlus()!.Value;
        Assert.Equal(frame, data);
        Assert.Equal(1u << 16 | 0x0720u, opts2);   // byte-swapped TCI, as 8139cp swab16s it back
    }

    [Fact]
    public void Without_descriptors_RxEmpty_is_raised_and_frames_wait_until_the_driver_acknowledges()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus(count: 2);
        var frames = Enumerable.Range(0, 4).Select(i => Frames.Raw(Rtl8139Rig.Mac, 70 + i)).ToArray();
        foreach (var f in frames) rig.Inject(f);
        Assert.NotEqual(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0010);
        var received = new List<byte[]>();
        // cp_rx_poll: acknowledge the receive bits, take what is done, hand descriptors back; the mask
        // write at the end lets the waiting frames in.
        for (int round = 0; round < 4 && received.Count < 4; round++)
        {
            rig.W16(Rtl8139Rig.IntrStatus, 0x0053);
            while (rig.ReceiveCPlus() is { } got) received.Add(got.Data);
            rig.W16(Rtl8139Rig.IntrMask, 0x80FD);
        }
        Assert.Equal(frames, received);
    }

    [Fact]
    public void Tally_counters_are_dumped_to_the_address_in_DTCCR_and_the_command_bit_clears()
    {
        using var rig = new Rtl8139Rig(0x20);
        rig.StartCPlus();
        rig.SendCPlus(0, 0, Frames.Raw(Rtl8139Rig.Peer, 64));
        rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 64));
        rig.Inject(Frames.Raw(MacAddress.Broadcast, 64));
        const ulong stats = 0x50_0000;
        rig.W32(Tsd0 + 4, 0);
        rig.W32(Tsd0, (uint)stats | 1u << 3);
        Assert.Equal(0u, rig.R32(Tsd0) & 1u << 3);
        var block = rig.Ram(stats, 64);
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(block));          // tx_ok
        Assert.Equal(2UL, BinaryPrimitives.ReadUInt64LittleEndian(block[8..]));     // rx_ok
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(block[40..]));    // rx_ok_phys
        Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(block[48..]));    // rx_ok_bcast
    }

    [Fact]
    public void The_C_chip_has_no_CPlus_registers()
    {
        using var rig = new Rtl8139Rig(0x10);
        rig.W16(CpCmd, 0x0003);
        Assert.Equal(0, rig.R16(CpCmd));
        Assert.False(rig.Nic.CPlusTransmit);
    }
}
