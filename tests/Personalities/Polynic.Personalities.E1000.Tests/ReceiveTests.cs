using Polynic.Core.Nic;
using Polynic.Core.Nic.Filtering;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>Receive descriptors, RCTL filter modes, VLAN, checksum and jumbo frames (expectations doc 3.3-3.6).</summary>
public class ReceiveTests : IDisposable
{
    private static readonly MacAddress Multicast = MacAddress.FromUInt64(0x01_00_5E_00_00_FB);
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Own_unicast_frame_lands_in_one_descriptor_with_fcs_length_and_dd_eop()
    {
        _rig.SetupRx(16);
        var frame = Frames.Raw(E1000Rig.Mac, 1000);
        _rig.Inject(frame);
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(1004, d.Length);
        Assert.Equal(ReceivePath.StatusDd | ReceivePath.StatusEop | ReceiveChecksum.StatusIxsm, d.Status);
        Assert.Equal(0, d.Errors);
        Assert.Equal(frame, d.Data[..1000]);
        Assert.Equal(IcrRxt0, _rig.Read(Icr) & IcrRxt0);
    }

    [Fact]
    public void Secrc_strips_the_fcs_and_short_frames_are_padded_to_60()
    {
        _rig.SetupRx(16, RctlEn | RctlBam | RctlSecrc);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 42));
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(60, d.Length);
        Assert.All(d.Data[42..], b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0u, false, false, true, false)]                       // own address only
    [InlineData(RctlBam, false, true, true, false)]                   // + broadcast
    [InlineData(RctlUpe, true, false, true, false)]                   // + any unicast
    [InlineData(RctlMpe, false, true, true, true)]                    // + any group address (broadcast too)
    [InlineData(RctlUpe | RctlMpe | RctlBam, true, true, true, true)]
    public void Rctl_modes_select_frames(uint mode, bool otherUnicast, bool broadcast, bool own, bool multicast)
    {
        _rig.SetupRx(64, RctlEn | mode);
        Assert.Equal(own, Delivered(Frames.Raw(E1000Rig.Mac, 64)));
        Assert.Equal(otherUnicast, Delivered(Frames.Raw(Frames.Peer, 64)));
        Assert.Equal(broadcast, Delivered(Frames.Raw(MacAddress.Broadcast, 64)));
        Assert.Equal(multicast, Delivered(Frames.Raw(Multicast, 64)));
    }

    [Fact]
    public void Multicast_hash_table_and_extra_receive_addresses_accept_their_frames()
    {
        _rig.SetupRx(64);
        Assert.False(Delivered(Frames.Raw(Multicast, 64)));
        int hash = MulticastHash.Intel(Multicast, 0);
        _rig.Write(Mta + (uint)(hash >> 5) * 4, 1u << (hash & 31));
        Assert.True(Delivered(Frames.Raw(Multicast, 64)));

        var extra = MacAddress.FromUInt64(0x02_AA_BB_CC_DD_EE);
        Assert.False(Delivered(Frames.Raw(extra, 64)));
        var (low, high) = extra.ToLowHigh();
        _rig.Write(Ral + 8, low);
        _rig.Write(Rah + 8, high | RahAddressValid);
        Assert.True(Delivered(Frames.Raw(extra, 64)));
        Assert.True(_rig.Nic.Counters.RxFiltered >= 2);
    }

    [Fact]
    public void Multicast_groups_in_receive_address_entries_are_accepted_like_linux_set_rx_mode_programs_them()
    {
        _rig.SetupRx(64);
        MacAddress[] groups =
        [
            MacAddress.FromUInt64(0x33_33_00_00_00_01), MacAddress.FromUInt64(0x01_00_5E_00_00_01),
            MacAddress.FromUInt64(0x33_33_FF_12_34_56), MacAddress.FromUInt64(0x01_00_5E_01_02_03),
        ];
        // e1000_set_rx_mode: RAR[1..] get the group addresses (low, flush, high|AV), the rest are cleared, MTA written top down.
        for (int i = 0; i < groups.Length; i++)
        {
            var (low, high) = groups[i].ToLowHigh();
            _rig.Write(Ral + 8 * (uint)(i + 1), low);
            _rig.Write(Rah + 8 * (uint)(i + 1), high | RahAddressValid);
        }
        for (int i = groups.Length + 1; i < 15; i++)
        {
            _rig.Write(Ral + 8 * (uint)i, 0);
            _rig.Write(Rah + 8 * (uint)i, 0);
        }
        for (int i = 127; i >= 0; i--) _rig.Write(Mta + 4 * (uint)i, 0);
        foreach (var g in groups) Assert.True(Delivered(Frames.Raw(g, 98)), g.ToString());
        Assert.False(Delivered(Frames.Raw(MacAddress.FromUInt64(0x01_00_5E_09_09_09), 98)));
    }

    [Fact]
    public void Vlan_tag_is_stripped_into_special_when_vme_is_set()
    {
        _rig.SetupRx(16);
        _rig.Write(Ctrl, _rig.Read(Ctrl) | CtrlVme);
        var frame = Frames.Raw(E1000Rig.Mac, 100, seed: 5);
        _rig.Inject(Frames.Tagged(frame, 0x6064));
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(ReceivePath.StatusVp, d.Status & ReceivePath.StatusVp);
        Assert.Equal(0x6064, d.Special);
        Assert.Equal(104, d.Length);
        Assert.Equal(frame, d.Data[..100]);
    }

    [Fact]
    public void Without_vme_the_tag_stays_and_vp_is_clear()
    {
        _rig.SetupRx(16);
        var tagged = Frames.Tagged(Frames.Raw(E1000Rig.Mac, 100), 0x0064);
        _rig.Inject(tagged);
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(0, d.Status & ReceivePath.StatusVp);
        Assert.Equal(tagged, d.Data[..104]);
    }

    [Fact]
    public void Vlan_filter_drops_vlans_missing_from_vfta()
    {
        _rig.SetupRx(16, RctlEn | RctlBam | RctlVfe);
        var frame = Frames.Raw(E1000Rig.Mac, 100);
        Assert.False(Delivered(Frames.Tagged(frame, 100)));
        _rig.Write(Vfta + (100 >> 5) * 4, 1u << (100 & 31));
        Assert.True(Delivered(Frames.Tagged(frame, 100)));
        Assert.True(Delivered(frame));   // untagged frames are not VLAN-filtered
    }

    [Fact]
    public void Frames_over_1518_are_dropped_without_lpe_and_tagged_1522_pass()
    {
        _rig.SetupRx(16);
        Assert.False(Delivered(Frames.Raw(E1000Rig.Mac, 1515)));
        Assert.True(Delivered(Frames.Raw(E1000Rig.Mac, 1514)));
        Assert.True(Delivered(Frames.Tagged(Frames.Raw(E1000Rig.Mac, 1514), 5)));
        Assert.Equal(1u, _rig.Read(Statistics.Roc));
    }

    [Fact]
    public void Jumbo_frame_spans_page_buffers_like_mtu_9000()
    {
        // e1000_change_mtu for MTU 9000: LPE, BSEX + SZ_4096.
        _rig.SetupRx(64, RctlEn | RctlBam | RctlLpe | RctlBsex | 3u << RctlBsizeShift);
        var frame = Frames.Raw(E1000Rig.Mac, 9018, seed: 11);
        _rig.Inject(frame);
        var lengths = new List<int>();
        var data = new List<byte>();
        RxDescriptor d;
        do
        {
            Assert.True(_rig.TryReceive(out d));
            lengths.Add(d.Length);
            data.AddRange(d.Data);
        }
        while ((d.Status & ReceivePath.StatusEop) == 0);
        Assert.Equal([4096, 4096, 830], lengths);
        Assert.Equal(frame, data.Take(9018).ToArray());
    }

    [Fact]
    public void Jumbo_frame_waits_whole_until_enough_descriptors_are_free()
    {
        _rig.SetupRx(8, RctlEn | RctlBam | RctlLpe | RctlBsex | 3u << RctlBsizeShift);
        _rig.Write(Rdt, 2);   // two descriptors: 8 KiB, not enough for 9022 bytes
        var frame = Frames.Raw(E1000Rig.Mac, 9018, seed: 3);
        _rig.Inject(frame);
        Assert.Equal(0u, _rig.Read(Rdh));   // nothing written in part
        Assert.Equal(1, _rig.Nic.Receiver.Waiting);
        Assert.Equal(1u, _rig.Read(Statistics.Rnbc));
        Assert.Equal(0u, _rig.Read(Statistics.Mpc));
        _rig.Write(Rdt, 7);
        Assert.Equal(3u, _rig.Read(Rdh));
        var data = new List<byte>();
        RxDescriptor d;
        do
        {
            Assert.True(_rig.TryReceive(out d));
            data.AddRange(d.Data);
        }
        while ((d.Status & ReceivePath.StatusEop) == 0);
        Assert.Equal(frame, data.Take(9018).ToArray());
    }

    [Fact]
    public void Frames_wait_in_the_packet_buffer_in_order_and_are_missed_only_when_it_is_full()
    {
        _rig.SetupRx(8);   // 7 descriptors handed over
        for (int i = 0; i < 7; i++) _rig.Inject(Frames.Raw(E1000Rig.Mac, 64, seed: (byte)i));
        Assert.Equal(7u, _rig.Read(Rdh));
        _rig.Write(Pba, 1);   // 1 KiB of packet buffer for receive: 12 frames of 64 + FCS (+ 12 bytes of bookkeeping each)
        for (int i = 7; i < 30; i++) _rig.Inject(Frames.Raw(E1000Rig.Mac, 64, seed: (byte)i));
        Assert.Equal(12, _rig.Nic.Receiver.Waiting);
        Assert.Equal(23u, _rig.Read(Statistics.Rnbc));
        Assert.Equal(11u, _rig.Read(Statistics.Mpc));
        Assert.Equal(11, _rig.Nic.Counters.RxNoBuffer);
        Assert.Equal(IcrRxo, _rig.Read(Icr) & IcrRxo);

        // The driver takes frames and gives buffers back one at a time: everything arrives in order.
        for (int i = 0; i < 7 + 12; i++)
        {
            var got = _rig.ReceiveFrame(out _);
            Assert.NotNull(got);
            Assert.Equal(Frames.Raw(E1000Rig.Mac, 64, seed: (byte)i), got[..64]);
        }
        Assert.Equal(0, _rig.Nic.Receiver.Waiting);
        Assert.Null(_rig.ReceiveFrame(out _));
    }

    [Fact]
    public void Rxdmt0_fires_when_free_descriptors_reach_the_threshold()
    {
        _rig.SetupRx(8);   // 7 descriptors handed over, threshold 8/2 = 4
        for (int i = 0; i < 2; i++) Assert.True(Delivered(Frames.Raw(E1000Rig.Mac, 64), giveBack: false));
        Assert.Equal(0u, _rig.Read(Icr) & IcrRxdmt0);   // 5 left
        Assert.True(Delivered(Frames.Raw(E1000Rig.Mac, 64), giveBack: false));
        Assert.Equal(IcrRxdmt0, _rig.Read(Icr) & IcrRxdmt0);   // 4 left: at the threshold
    }

    [Theory]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(true, true, false)]
    [InlineData(true, false, true)]
    public void Rxcsum_tuofl_reports_tcp_and_udp_checksums(bool udp, bool valid, bool expectError)
    {
        _rig.SetupRx(16);
        _rig.Write(Rxcsum, RxcsumTuofl | RxcsumIpofl);
        var payload = new byte[333];
        var frame = udp ? Frames.Udp(E1000Rig.Mac, Frames.Peer, payload, valid) : Frames.Tcp(E1000Rig.Mac, Frames.Peer, payload, validChecksums: valid);
        _rig.Inject(frame);
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(0, d.Status & ReceiveChecksum.StatusIxsm);
        Assert.Equal(ReceiveChecksum.StatusTcpcs | ReceiveChecksum.StatusIpcs, d.Status & (ReceiveChecksum.StatusTcpcs | ReceiveChecksum.StatusIpcs));
        Assert.Equal(expectError ? ReceiveChecksum.ErrorTcpe : 0, d.Errors);
    }

    [Fact]
    public void Rxcsum_ignores_padding_of_short_frames_and_sets_ixsm_for_other_protocols()
    {
        _rig.SetupRx(16);
        _rig.Write(Rxcsum, RxcsumTuofl);
        var small = Frames.Udp(E1000Rig.Mac, Frames.Peer, new byte[2]);   // 44 bytes, padded to 60
        _rig.Inject(small);
        Assert.True(_rig.TryReceive(out var d));
        Assert.Equal(0, d.Errors);
        Assert.Equal(ReceiveChecksum.StatusTcpcs, d.Status & ReceiveChecksum.StatusTcpcs);

        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.True(_rig.TryReceive(out d));
        Assert.Equal(ReceiveChecksum.StatusIxsm, d.Status & ReceiveChecksum.StatusIxsm);
    }

    [Fact]
    public void Receiver_disabled_drops_frames()
    {
        _rig.SetupRx(16, RctlBam);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        Assert.Equal(0u, _rig.Read(Rdh));
        Assert.Equal(1, _rig.Nic.Counters.RxDisabled);
    }

    private bool Delivered(byte[] frame, bool giveBack = true)
    {
        uint before = _rig.Read(Rdh);
        _rig.Inject(frame);
        bool delivered = _rig.Read(Rdh) != before;
        if (delivered && giveBack) Assert.NotNull(_rig.ReceiveFrame(out _));
        return delivered;
    }
}
