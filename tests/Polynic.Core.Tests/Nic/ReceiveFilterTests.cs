using CsCheck;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;

namespace Polynic.Core.Tests.Nic;

public class ReceiveFilterTests
{
    private static readonly MacAddress Own = MacAddress.Parse("52:54:00:12:34:56");

    private static byte[] Frame(string destination, ushort etherType = 0x0800, ushort tci = 0)
    {
        var f = new byte[64];
        MacAddress.Parse(destination).CopyTo(f);
        MacAddress.Parse("52:54:00:ab:cd:ef").CopyTo(f.AsSpan(6));
        f[12] = (byte)(etherType >> 8);
        f[13] = (byte)etherType;
        f[14] = (byte)(tci >> 8);
        f[15] = (byte)tci;
        return f;
    }

    private static ReceiveFilter E1000()
    {
        var f = new ReceiveFilter(exactEntries: 16, hashBits: 4096, MulticastHashKind.Intel);
        f.SetExact(0, Own, valid: true);
        return f;
    }

    [Theory]
    // The worked example of Linux e1000_hash_mc_addr (address ..:34:56, bytes 4 and 5 = 0x34, 0x56)
    // and QEMU's mta_shift {4, 3, 2, 0}. Linux's comment says 0x5D8 for offset 2, a typo for 0x58D.
    [InlineData(0, 0x563)]
    [InlineData(1, 0xAC6)]
    [InlineData(2, 0x58D)]
    [InlineData(3, 0x634)]
    public void Intel_hash_takes_12_address_bits_at_the_filter_offset(int offset, int expected) =>
        Assert.Equal(expected, MulticastHash.Intel(MacAddress.Parse("01:aa:00:12:34:56"), offset));

    [Theory]
    // Linux ether_crc values (checked against zlib: bitreverse(~crc32)).
    [InlineData("01:00:5e:00:00:01", 0x7FA32D9Bu, 31)]
    [InlineData("33:33:00:00:00:01", 0xF99BAABAu, 62)]
    [InlineData("01:00:5e:00:00:fb", 0x3F7B3B21u, 15)]
    [InlineData("ff:ff:ff:ff:ff:ff", 0xFF48647Du, 63)]
    public void Ethernet_crc_top_six_bits_match_linux_ether_crc(string address, uint crc, int index)
    {
        var mac = MacAddress.Parse(address);
        Assert.Equal(crc, MulticastHash.EthernetCrc(mac));
        Assert.Equal(index, MulticastHash.EthernetCrcTop6(mac));
    }

    [Fact]
    public void E1000_multicast_hash_bit_is_mta_word_and_bit_of_the_index()
    {
        var f = E1000();
        var group = Frame("01:00:5e:00:00:01");
        Assert.Equal(ReceiveFilterResult.RejectedMulticast, f.Accept(group));
        // MO=0: bytes 4,5 = 0x00,0x01 -> (0x0100 >> 4) = 0x010 -> MTA[0] bit 16.
        f.SetHashWord(0, 1u << 16);
        Assert.Equal(ReceiveFilterResult.AcceptedMulticastHash, f.Accept(group));
        f.IntelFilterOffset = 3;   // now 0x100 -> MTA[8] bit 0
        Assert.Equal(ReceiveFilterResult.RejectedMulticast, f.Accept(group));
        f.SetHashWord(8, 1);
        Assert.Equal(ReceiveFilterResult.AcceptedMulticastHash, f.Accept(group));
    }

    [Fact]
    public void Rtl8139_style_filter_uses_mar_bit_of_the_crc_and_rejects_broadcast_without_ab()
    {
        var f = new ReceiveFilter(1, 64, MulticastHashKind.EthernetCrcTop6) { BroadcastUsesGroupFilters = false };
        f.SetExact(0, Own, true);
        f.SetHashWord(1, 1u << (62 - 32));                                  // MAR7 bit 6
        Assert.Equal(ReceiveFilterResult.AcceptedMulticastHash, f.Accept(Frame("33:33:00:00:00:01")));
        f.MulticastHashEnabled = false;                                     // RCR.AM off
        Assert.Equal(ReceiveFilterResult.RejectedMulticast, f.Accept(Frame("33:33:00:00:00:01")));
        f.SetHashWord(1, 1u << (63 - 32));
        f.MulticastHashEnabled = true;
        Assert.Equal(ReceiveFilterResult.RejectedBroadcast, f.Accept(Frame("ff:ff:ff:ff:ff:ff")));
        f.AcceptBroadcast = true;
        Assert.Equal(ReceiveFilterResult.AcceptedBroadcast, f.Accept(Frame("ff:ff:ff:ff:ff:ff")));
    }

    [Fact]
    public void Unicast_exact_match_needs_the_valid_bit_and_promiscuous_accepts_the_rest()
    {
        var f = E1000();
        Assert.Equal(ReceiveFilterResult.AcceptedUnicast, f.Accept(Frame("52:54:00:12:34:56")));
        Assert.Equal(ReceiveFilterResult.RejectedUnicast, f.Accept(Frame("52:54:00:12:34:57")));
        f.SetExact(15, MacAddress.Parse("52:54:00:12:34:57"), valid: false);
        Assert.Equal(ReceiveFilterResult.RejectedUnicast, f.Accept(Frame("52:54:00:12:34:57")));
        f.SetExact(15, MacAddress.Parse("52:54:00:12:34:57"), valid: true);
        Assert.Equal(ReceiveFilterResult.AcceptedUnicast, f.Accept(Frame("52:54:00:12:34:57")));
        f.PromiscuousUnicast = true;
        Assert.Equal(ReceiveFilterResult.AcceptedPromiscuous, f.Accept(Frame("00:11:22:33:44:55")));
        Assert.Equal(ReceiveFilterResult.RejectedMulticast, f.Accept(Frame("01:00:5e:7f:00:01")));
        Assert.False(f.SetExact(16, Own, true));
    }

    [Fact]
    public void E1000_broadcast_without_bam_still_passes_all_multicast()
    {
        var f = E1000();
        Assert.Equal(ReceiveFilterResult.RejectedBroadcast, f.Accept(Frame("ff:ff:ff:ff:ff:ff")));
        f.AllMulticast = true;
        Assert.Equal(ReceiveFilterResult.AcceptedAllMulticast, f.Accept(Frame("ff:ff:ff:ff:ff:ff")));
        Assert.Equal(ReceiveFilterResult.AcceptedAllMulticast, f.Accept(Frame("01:00:5e:00:00:09")));
    }

    [Fact]
    public void Group_address_in_the_exact_table_is_accepted_without_hash()
    {
        var f = new ReceiveFilter(64, 0, MulticastHashKind.None);          // virtio-net MAC table
        f.SetExact(40, MacAddress.Parse("01:00:5e:00:00:fb"), true);
        Assert.Equal(ReceiveFilterResult.AcceptedMulticastExact, f.Accept(Frame("01:00:5e:00:00:fb")));
        Assert.Equal(ReceiveFilterResult.RejectedMulticast, f.Accept(Frame("01:00:5e:00:00:fc")));
    }

    [Fact]
    public void Vlan_filter_checks_the_vid_of_frames_with_the_configured_tpid()
    {
        var f = E1000();
        f.VlanFilterEnabled = true;
        var tagged = Frame("52:54:00:12:34:56", 0x8100, tci: 0xA000 | 100);   // PCP 5, VID 100
        Assert.Equal(ReceiveFilterResult.RejectedVlan, f.Accept(tagged));
        f.SetVlanWord(100 / 32, 1u << (100 % 32));                          // VFTA[3] bit 4
        Assert.Equal(ReceiveFilterResult.AcceptedUnicast, f.Accept(tagged));
        Assert.Equal(ReceiveFilterResult.AcceptedUnicast, f.Accept(Frame("52:54:00:12:34:56", 0x0800)));
        f.VlanTpid = 0x88A8;                                                // VET changed: 0x8100 is untagged now
        Assert.Equal(ReceiveFilterResult.AcceptedUnicast, f.Accept(Frame("52:54:00:12:34:56", 0x8100, 7)));
        Assert.Equal(ReceiveFilterResult.RejectedVlan, f.Accept(Frame("52:54:00:12:34:56", 0x88A8, 7)));
        f.PromiscuousUnicast = true;
        Assert.Equal(ReceiveFilterResult.RejectedVlan, f.Accept(Frame("52:54:00:12:34:56", 0x88A8, 7)));
        f.PromiscuousBypassesVlan = true;
        Assert.Equal(ReceiveFilterResult.AcceptedPromiscuous, f.Accept(Frame("52:54:00:12:34:56", 0x88A8, 7)));
    }

    [Fact]
    public void Short_frames_are_rejected_before_anything_else()
    {
        var f = E1000();
        f.PromiscuousUnicast = true;
        Assert.Equal(ReceiveFilterResult.RejectedTooShort, f.Accept(Frame("52:54:00:12:34:56").AsSpan(0, 13)));
        Assert.Equal(ReceiveFilterResult.RejectedTooShort, f.Accept([]));
        f.VlanFilterEnabled = true;
        f.PromiscuousUnicast = false;
        Assert.Equal(ReceiveFilterResult.RejectedVlan, f.Accept(Frame("52:54:00:12:34:56", 0x8100).AsSpan(0, 15)));
    }

    [Fact]
    public void Any_frame_gets_a_verdict_without_throwing_or_allocating() =>
        Gen.Byte.Array[0, 80].Sample(frame =>
        {
            var f = E1000();
            f.VlanFilterEnabled = true;
            f.AddToHash(MacAddress.Parse("01:00:5e:00:00:01"));
            var r = f.Accept(frame);
            Allocations.AssertNone(() => f.Accept(frame));
            Assert.True(Enum.IsDefined(r));
            if (frame.Length < 14) Assert.Equal(ReceiveFilterResult.RejectedTooShort, r);
        });
}
