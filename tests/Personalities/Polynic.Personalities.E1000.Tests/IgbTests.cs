using System.Buffers.Binary;
using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.E1000.Igb;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// The 82576 (igb) as Linux igb probes and opens it: PCI function, NVM through EERD, IGP3 PHY,
/// queue registers, advanced descriptors, ICR/EICR with IVAR routing, RSS (docs/igb-status.md).
/// </summary>
public class IgbTests : IDisposable
{
    private readonly IgbRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Identity_bars_and_interrupt_capabilities_are_those_of_an_82576()
    {
        Assert.Equal(0x10C9_8086u, _rig.Machine.ConfigRead(_rig.Slot, 0));
        var d = _rig.Nic.Definition;
        Assert.Contains(d.Bars, b => b is { Index: 0, Kind: BarKind.Memory32, Size: 128 * 1024 });
        Assert.Contains(d.Bars, b => b is { Index: 2, Kind: BarKind.Io });
        Assert.Equal(new MsixCapability(10, 3, 0, 3, 0x2000), d.Msix);
        Assert.NotNull(d.Msi);
    }

    [Fact]
    public void Nvm_reads_through_eerd_sum_to_0xbaba_hold_the_mac_and_no_alternate_address()
    {
        // igb_init_nvm_params_82575: SIZE_EX (14:11) + 6 = log2(words); igb_get_auto_rd_done: AUTO_RD.
        uint eecd = _rig.Read(Eecd);
        Assert.Equal(EecdAutoRead | EecdPres, eecd & (EecdAutoRead | EecdPres));
        Assert.Equal(2u, (eecd >> 11) & 0xF);   // 256 words, as QEMU's igb
        ushort sum = 0;
        var words = new ushort[64];
        for (int i = 0; i < 64; i++)
        {
            words[i] = _rig.ReadNvm(i);
            sum += words[i];
        }
        Assert.Equal(0xBABA, sum);
        Assert.Equal(IgbRig.Mac, MacAddress.FromLowHigh(words[0] | (uint)words[1] << 16, words[2]));
        Assert.Equal(0xFFFF, words[IgbNvm.AlternateMacPointerWord]);
        Assert.Equal(0x10C9, words[0x0D]);
        Assert.Equal(0, _rig.ReadNvm(0x42));   // igb_get_fw_version's eTrack word: beyond the checksum, readable
        // igb_read_mac_addr reads RAR0, which the reset loaded from the NVM with AV.
        Assert.Equal(IgbRig.Mac, MacAddress.FromLowHigh(_rig.Read(Ral), _rig.Read(Rah) & 0xFFFF));
        Assert.NotEqual(0u, _rig.Read(Rah) & RahAddressValid);
        // igb_get_cfg_done_82575 polls EEMNGCTL.CFG_DONE0.
        Assert.NotEqual(0u, _rig.Read(Eemngctl) & EemngctlCfgDone0);
    }

    [Fact]
    public void Phy_is_the_igp3_at_address_1_and_pages_through_register_31()
    {
        // igb_get_phy_id: ID1 << 16 | (ID2 & 0xFFF0) must be IGP03E1000_E_PHY_ID.
        uint id = (uint)_rig.ReadPhy(2) << 16 | (uint)(_rig.ReadPhy(3) & 0xFFF0);
        Assert.Equal(0x02A8_0390u, id);
        // An MDIC for another address completes with ERROR.
        _rig.Write(Mdic, 2u << 16 | 2u << 21 | 2u << 26);
        Assert.NotEqual(0u, _rig.Read(Mdic) & MdicError);
        // igb_read_phy_reg_igp: the whole offset goes to 0x1F, then bits 4:0 are accessed.
        _rig.WritePhy(Igp3Phy.PageSelect, 0x11B1);
        _rig.WritePhy(0x11, 0x1234);
        Assert.Equal(0x1234, _rig.ReadPhy(0x11));
        _rig.WritePhy(Igp3Phy.PageSelect, 0x0011);
        // Page 0's port status: link at 1000 full duplex.
        Assert.Equal(0xC000 | 1 << 10 | 1 << 9, _rig.ReadPhy(Igp3Phy.PortStatus));
    }

    [Fact]
    public void Status_reports_link_at_1000_full_and_ignores_writes()
    {
        uint status = _rig.Read(Status);
        Assert.Equal(StatusLu | StatusFd | StatusSpeed1000, status & (StatusLu | StatusFd | 3u << 6));
        // reg_test_82576's STATUS toggle: writing 0x7FFFF3FF changes nothing it reads.
        _rig.Write(Status, 0x7FFF_F3FF);
        Assert.Equal(status, _rig.Read(Status));
    }

    [Fact]
    public void Queues_0_to_3_answer_at_both_addresses_and_masks_follow_the_register_test()
    {
        _rig.Write(0x2800 + 0x100 * 2, 0x1234_5678);
        Assert.Equal(0x1234_5670u, _rig.Read(RxQueue(2, QBal)));
        _rig.Write(TxQueue(3, QLen), 0xFFFF_FFFF);
        Assert.Equal(0x000F_FFF0u, _rig.Read(0x3800 + 0x100 * 3 + 8));
        _rig.Write(RxQueue(12, QTail), 0x5A5A_5A5A);
        Assert.Equal(0x5A5Au, _rig.Read(RxQueue(12, QTail)));
        // RA2 (entries 16-23) high word keeps AV and the pool bits (0x83FFFFFF).
        _rig.Write(Ra2 + 4, 0xFFFF_FFFF);
        Assert.Equal(0x83FF_FFFFu, _rig.Read(Ra2 + 4));
    }

    [Fact]
    public void A_frame_lands_in_advanced_one_buffer_descriptors_with_dd_eop_and_length()
    {
        _rig.SetupRx();
        var frame = Frames.Udp(IgbRig.Mac, Frames.Peer, new byte[100]);
        Assert.True(_rig.Inject(frame));
        var wb = _rig.RxWriteBack(0, 0);
        Assert.Equal(3u, wb.StatusError & 3);   // DD | EOP
        Assert.Equal(frame.Length, wb.Length);
        Assert.Equal(0u, wb.StatusError >> 24); // no checksum errors
        Assert.Equal(frame, _rig.Ram(IgbRig.RxBuffer(0, 0), frame.Length).ToArray());
        Assert.Equal(1u, _rig.Read(RxQueue(0, QHead)));
    }

    [Fact]
    public void A_jumbo_frame_spans_descriptors_and_only_the_last_has_eop()
    {
        _rig.SetupRx(rctl: RctlEn | RctlBam | RctlSecrc | RctlLpe);
        _rig.Write(Rlpml, 9018);
        var frame = Frames.Raw(IgbRig.Mac, 5000);
        Assert.True(_rig.Inject(frame));
        Assert.Equal(1u, _rig.RxWriteBack(0, 0).StatusError & 3);
        Assert.Equal(1u, _rig.RxWriteBack(0, 1).StatusError & 3);
        var last = _rig.RxWriteBack(0, 2);
        Assert.Equal(3u, last.StatusError & 3);
        Assert.Equal(5000 - 2 * 2048, last.Length);
    }

    [Fact]
    public void A_disabled_queue_drops_and_counts_in_rqdpc()
    {
        _rig.SetupRx();
        _rig.Write(RxQueue(0, QDctl), 0);
        _rig.Nic.ReceiveBackpressureLimit = TimeSpan.Zero;
        _rig.Inject(Frames.Raw(IgbRig.Mac, 100));
        Assert.Equal(0u, _rig.RxWriteBack(0, 0).StatusError & 1);
        Assert.Equal(1u, _rig.Read(RxQueue(0, QRqdpc)));
        Assert.Equal(0u, _rig.Read(RxQueue(0, QRqdpc)));   // read to clear
    }

    [Fact]
    public void Advanced_data_descriptor_sends_the_frame_and_writes_dd_back()
    {
        _rig.SetupTx();
        var frame = Frames.Udp(Frames.Peer, IgbRig.Mac, new byte[200]);
        uint index = _rig.TransmitAdvanced(frame);
        Assert.True(_rig.TxDone(index));
        Assert.Equal(frame, Assert.Single(_rig.Wire.Frames));
        Assert.Equal(1u, _rig.Read(TxQueue(0, QHead)));
    }

    [Fact]
    public void Tso_context_and_data_descriptors_are_segmented_with_valid_checksums()
    {
        _rig.SetupTx();
        var payload = Enumerable.Range(0, 4000).Select(i => (byte)(i * 7)).ToArray();
        var frame = Frames.Tcp(Frames.Peer, IgbRig.Mac, payload, sequence: 0x10000);
        // igb_tso: IP total length and checksum zeroed, TCP checksum = pseudo-header sum without length.
        frame[16] = frame[17] = 0;
        frame[24] = frame[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, 0)));
        // Context: MACLEN 14, IPLEN 20, TUCMD IPv4 | L4T TCP, MSS 1448, L4LEN 20.
        _rig.QueueTx(20u | 14u << 9, 1u << 29 | 2u << 20 | 1u << 10 | 1u << 11, 1448u << 16 | 20u << 8);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        uint cmd = 1u << 29 | 3u << 20 | 1u << 31 | 1u << 25;
        uint olinfo = (uint)payload.Length << 14 | IgbTransmitDescriptor.OlinfoTxsm | IgbTransmitDescriptor.OlinfoIxsm;
        _rig.QueueTx(at, 54 | cmd, olinfo);
        uint last = _rig.QueueTx(at + 54, (uint)payload.Length | cmd | 1u << 24 | 1u << 27, olinfo);
        _rig.Write(TxQueue(0, QTail), _rig.TxTail);
        Assert.True(_rig.TxDone(last));
        var sent = _rig.Wire.Frames;
        Assert.Equal(3, sent.Count);
        Assert.All(sent, s => Assert.True(Frames.ChecksumsValid(s)));
        Assert.Equal(payload, sent.SelectMany(s => s.Skip(54)).ToArray());
    }

    [Fact]
    public void Transmit_checksum_is_completed_and_a_vlan_tag_from_the_context_inserted()
    {
        _rig.SetupTx();
        var frame = Frames.Tcp(Frames.Peer, IgbRig.Mac, new byte[300]);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, frame.Length - 34)));
        _rig.QueueTx(20u | 14u << 9 | 0x0123u << 16, 1u << 29 | 2u << 20 | 1u << 10 | 1u << 11, 0);
        _rig.TransmitAdvanced(frame, extraCmd: IgbTransmitDescriptor.CmdVle, olinfo: IgbTransmitDescriptor.OlinfoTxsm);
        var sent = Assert.Single(_rig.Wire.Frames);
        Assert.Equal(frame.Length + 4, sent.Length);
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(12)));
        Assert.Equal(0x0123, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(14)));
        Assert.True(Frames.ChecksumsValid(sent, l3: 18));
    }

    [Fact]
    public void Legacy_interrupts_come_from_icr_with_int_asserted_and_iam_auto_masks()
    {
        // igb_irq_enable without MSI-X: IMS = IAM = RXT0 | TXDW | LSC | ...
        _rig.Write(Ims, IcrRxdw | IcrTxdw | IcrLsc);
        _rig.Write(Iam, IcrRxdw | IcrTxdw | IcrLsc);
        _rig.SetupRx();
        _rig.Inject(Frames.Raw(IgbRig.Mac, 100));
        Assert.True(_rig.IntxAsserted);
        uint icr = _rig.Read(Icr);
        Assert.Equal(IcrRxdw | IcrIntAsserted, icr & (IcrRxdw | IcrIntAsserted));
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(0u, _rig.Read(Ims) & (IcrRxdw | IcrTxdw | IcrLsc));   // auto-masked until igb_irq_enable
        Assert.Equal(0u, _rig.Read(Icr) & IcrIntAsserted);
    }

    [Fact]
    public void Msix_routes_queues_through_ivar_and_other_causes_through_ivar_misc()
    {
        _rig.EnableMsix();
        Assert.Equal(InterruptMode.Msix, _rig.Machine.Function(_rig.Slot).Interrupts.Mode);
        // igb_configure_msix for the 82576: GPIE, other on vector 0, queue 0 on vector 1, queue 9 on vector 2.
        _rig.Write(Gpie, GpieMsixMode | GpiePba | GpieEiame | GpieNsicr);
        _rig.Write(IvarMisc, (0 | IvarValid) << 8);
        _rig.Write(Ivar0 + 0, (1 | IvarValid) | (1 | IvarValid) << 8);
        _rig.Write(Ivar0 + 4, (2 | IvarValid) << 16 | (2 | IvarValid) << 24);   // queue 9: IVAR0[1], bytes 2 (rx) and 3 (tx)
        _rig.Write(Eiac, 0b111);
        _rig.Write(Eiam, 0b111);
        _rig.Write(Eims, 0b111);
        _rig.Write(Ims, IcrLsc | IcrDoutsync | IcrDrsta);
        _rig.Read(Icr);                                        // the link-up LSC of the attach, as igb_msix_other would
        _rig.Write(Eims, 0b111);
        _rig.SetupRx();
        _rig.Interrupts.Clear();

        _rig.Inject(Frames.Raw(IgbRig.Mac, 100));
        Assert.Equal([1], MsixVectors());
        Assert.Equal(0u, _rig.Read(Eicr) & 0b10);            // EIAC cleared it as the message went
        Assert.Equal(0b101u, _rig.Read(Eims));                 // EIAM masked vector 1 until the driver's EIMS write

        _rig.Interrupts.Clear();
        _rig.Write(Eims, 0b010);
        _rig.Write(Ics, IcrLsc);
        Assert.Equal([0], MsixVectors());
        Assert.Equal(IcrLsc, _rig.Read(Icr) & IcrLsc);         // igb_msix_other reads ICR

        _rig.Interrupts.Clear();
        _rig.Write(Eics, 1u << 2);                             // a software-triggered vector
        Assert.Equal([2], MsixVectors());
    }

    [Fact]
    public void With_msix_on_but_gpie_msix_mode_clear_icr_causes_go_to_vector_0_as_igb_self_test_expects()
    {
        // After the self-test's reset GPIE is 0 while the function keeps MSI-X: igb_intr_test hooks vector 0.
        _rig.EnableMsix();
        _rig.Read(Icr);
        _rig.Interrupts.Clear();
        _rig.Write(Ims, 1u << 10);
        _rig.Write(Ics, 1u << 10);
        Assert.Equal([0], MsixVectors());
        Assert.Equal(1u << 10 | IcrIntAsserted, _rig.Read(Icr));
        _rig.Write(Imc, 1u << 10);
        _rig.Write(Ics, 1u << 10);
        Assert.Equal([0], MsixVectors());
    }

    [Fact]
    public void Rss_spreads_by_the_toeplitz_hash_through_reta_and_reports_the_hash()
    {
        _rig.SetupRx(0);
        _rig.SetupRx(1);
        var key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");
        for (int i = 0; i < 10; i++) _rig.Write(Rssrk + (uint)i * 4, BinaryPrimitives.ReadUInt32LittleEndian(key.AsSpan(i * 4)));
        for (int i = 0; i < 32; i++) _rig.Write(Reta + (uint)i * 4, 0x0100_0100);   // entries alternate queues 0 and 1
        _rig.Write(Mrqc, MrqcEnableRss | MrqcRssIPv4 | MrqcRssIPv4Tcp);

        // The RSS verification suite's first IPv4/TCP case: 66.9.149.187:2794 -> 161.142.100.80:1766, hash 0x51ccc178.
        var frame = Frames.Tcp(IgbRig.Mac, Frames.Peer, new byte[10]);
        new byte[] { 66, 9, 149, 187 }.CopyTo(frame.AsSpan(26));
        new byte[] { 161, 142, 100, 80 }.CopyTo(frame.AsSpan(30));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), 2794);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), 1766);
        _rig.Inject(frame);
        int queue = (0x51ccc178 & 0x7F) % 2 == 0 ? 0 : 1;
        var wb = _rig.RxWriteBack(queue, 0);
        Assert.Equal(1u, wb.StatusError & 1);
        Assert.Equal(0x51ccc178u, wb.Hash);
        Assert.Equal(1u, wb.RssType);   // TCP/IPv4
    }

    private int[] MsixVectors() => _rig.Interrupts.Events.Where(e => e.Mode == InterruptMode.Msix).Select(e => e.Vector).ToArray();
}
