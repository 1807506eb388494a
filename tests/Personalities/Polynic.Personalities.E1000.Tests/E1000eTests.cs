using System.Buffers.Binary;
using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000eBits;
using static Polynic.Personalities.E1000.E1000eRegisters;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// The 82574L (e1000e) parts that differ from the 8254x, done the way Linux e1000e does them:
/// PCI function, NVM through EERD, BM PHY, extended receive descriptors, MSI-X routing through IVAR.
/// </summary>
public class E1000eTests : IDisposable
{
    private readonly E1000Rig _rig = new(i82574: true);

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Identity_bars_and_interrupt_capabilities_are_those_of_an_82574L()
    {
        Assert.Equal(0x10D3_8086u, _rig.Machine.ConfigRead(_rig.Slot, 0));
        var d = _rig.Nic.Definition;
        Assert.Contains(d.Bars, b => b is { Index: 0, Kind: BarKind.Memory32, Size: 128 * 1024 });
        Assert.Contains(d.Bars, b => b is { Index: 2, Kind: BarKind.Io });
        Assert.Equal(new MsixCapability(5, 3, 0, 3, 0x2000), d.Msix);
        Assert.NotNull(d.Msi);
        Assert.Equal(_rig.Read(Status), _rig.MmioRead(Status));
        // The I/O window reaches the registers on BAR 2.
        _rig.IoWrite(0, Status);
        Assert.Equal(_rig.Read(Status), _rig.IoRead(4));
    }

    [Fact]
    public void Nvm_reads_through_eerd_sum_to_0xbaba_and_hold_the_mac()
    {
        // e1000e_get_auto_rd_done and e1000_init_nvm_params_82571: AUTO_RD set, no flash, 64 words.
        uint eecd = _rig.Read(Eecd);
        Assert.Equal(EecdAutoRead | EecdPres, eecd & (EecdAutoRead | EecdPres));
        Assert.NotEqual(3u, (eecd >> 15) & 3);
        Assert.Equal(0u, (eecd >> 11) & 0xF);
        _rig.Write(Eecd, eecd | EecdReq);
        Assert.NotEqual(0u, _rig.Read(Eecd) & EecdGnt);

        ushort sum = 0;
        var words = new ushort[64];
        for (int i = 0; i < 64; i++)
        {
            words[i] = ReadNvm(i);
            sum += words[i];
        }
        Assert.Equal(0xBABA, sum);
        Assert.Equal(E1000Rig.Mac, MacAddress.FromLowHigh(words[0] | (uint)words[1] << 16, words[2]));
        Assert.Equal(0, words[0x0F] & 0x6000);   // no manageability (e1000_check_mng_mode_82574)
    }

    [Fact]
    public void Eewr_writes_a_word_that_eerd_then_reads()
    {
        _rig.Write(Eewr, 0xABCDu << EerwDataShift | 0x30u << EerwAddressShift | EerwStart);
        Assert.NotEqual(0u, _rig.Read(Eewr) & EerwDone);
        Assert.Equal(0xABCD, ReadNvm(0x30));
    }

    [Fact]
    public void Phy_reports_the_bme1000_r2_and_pages_registers_16_to_31()
    {
        Assert.Equal(0x0141, ReadPhy(2));
        Assert.Equal(0x0CB1, ReadPhy(3));   // BME1000_E_PHY_ID_R2, the only 82574 PHY e1000e accepts
        WritePhy(M88E1011Phy.BmPageSelect, 0);
        WritePhy(16, 0x0068);
        WritePhy(M88E1011Phy.BmPageSelect, 769);
        WritePhy(16, 0x004C);
        Assert.Equal(0x004C, ReadPhy(16));
        Assert.Equal(769, ReadPhy(M88E1011Phy.BmPageSelect));
        WritePhy(M88E1011Phy.BmPageSelect, 0);
        Assert.Equal(0x0068, ReadPhy(16));
        // Registers 0-15 are the same on every page.
        WritePhy(M88E1011Phy.BmPageSelect, 2);
        Assert.Equal(0x0CB1, ReadPhy(3));
    }

    [Fact]
    public void Extended_receive_descriptors_carry_status_errors_length_and_vlan_in_the_extended_layout()
    {
        _rig.Write(Rfctl, RfctlExtendedStatus);
        _rig.SetupRx(16, RctlEn | RctlBam | RctlSecrc);
        var frame = Frames.Raw(E1000Rig.Mac, 300, seed: 7);
        _rig.Inject(frame);
        var d = _rig.Ram(E1000Rig.RxRing, 16);
        uint statusError = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
        Assert.Equal(ReceivePath.StatusDd | ReceivePath.StatusEop, (int)(statusError & 3));
        Assert.Equal(0u, statusError >> 24);
        Assert.Equal(300, BinaryPrimitives.ReadUInt16LittleEndian(d[12..]));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(d));   // MRQ and RSS/IP ID: none
        Assert.Equal(frame, _rig.Ram(E1000Rig.RxBuffers, 300).ToArray());

        // A frame larger than one buffer spans descriptors; only the last has EOP.
        _rig.Write(Rctl, RctlEn | RctlBam | RctlSecrc | 3u << RctlBsizeShift);   // 256-byte buffers
        var big = Frames.Raw(E1000Rig.Mac, 600, seed: 8);
        _rig.Inject(big);
        for (int i = 1; i <= 3; i++)
        {
            uint se = BinaryPrimitives.ReadUInt32LittleEndian(_rig.Ram(E1000Rig.RxRing + (ulong)i * 16 + 8, 4));
            Assert.Equal(i == 3 ? 3u : 1u, se & 3);
        }
    }

    [Fact]
    public void Extended_receive_buffer_outside_ram_completes_with_rxe_in_bit_31()
    {
        _rig.Write(Rfctl, RfctlExtendedStatus);
        _rig.SetupRx(8, RctlEn | RctlBam | RctlSecrc);
        BinaryPrimitives.WriteUInt64LittleEndian(_rig.Ram(E1000Rig.RxRing, 8), 0x7FFF_0000);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 64));
        uint statusError = BinaryPrimitives.ReadUInt32LittleEndian(_rig.Ram(E1000Rig.RxRing + 8, 4));
        Assert.Equal(3u, statusError & 3);
        Assert.Equal(1u << 31, statusError & (1u << 31));
        Assert.Equal(1, _rig.Nic.Counters.DmaFaults);
    }

    [Fact]
    public void Packet_split_descriptors_fill_the_header_buffer_then_the_pages_and_write_back_each_length()
    {
        // What e1000_configure_rx writes for MTU 9000 with 4 KiB pages: BSIZE0 128 bytes, three 4 KiB buffers, DTYP = packet split.
        const int count = 8;
        _rig.Write(Rfctl, RfctlExtendedStatus);
        _rig.Write(Psrctl, 1u | 4u << 8 | 4u << 16 | 4u << 24);
        _rig.Ram(E1000Rig.RxRing, count * 32).Clear();
        for (int i = 0; i < count; i++)
            for (int b = 0; b < 4; b++)
                BinaryPrimitives.WriteUInt64LittleEndian(_rig.Ram(E1000Rig.RxRing + (ulong)(i * 32 + 8 * b), 8), E1000Rig.RxBuffers + (ulong)(i * 4 + b) * 0x1000);
        _rig.Write(Rdbal, (uint)E1000Rig.RxRing);
        _rig.Write(Rdlen, count * 32);
        _rig.Write(Rdh, 0);
        _rig.Write(Rdt, (count - 1) * 2);   // e1000_alloc_rx_buffers_ps: the tail counts 16-byte units
        _rig.Write(Rctl, RctlEn | RctlBam | RctlSecrc | RctlLpe | 1u << 10);

        var frame = Frames.Raw(E1000Rig.Mac, 9014, seed: 9);
        _rig.Inject(frame);
        var d = _rig.Ram(E1000Rig.RxRing, 32);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(d[8..]) & 3);   // DD, EOP: one descriptor holds it
        int[] lengths = [BinaryPrimitives.ReadUInt16LittleEndian(d[12..]), BinaryPrimitives.ReadUInt16LittleEndian(d[18..]),
            BinaryPrimitives.ReadUInt16LittleEndian(d[20..]), BinaryPrimitives.ReadUInt16LittleEndian(d[22..])];
        Assert.Equal([128, 4096, 4096, 9014 - 128 - 8192], lengths);
        var gathered = new List<byte>();
        for (int b = 0; b < 4; b++) gathered.AddRange(_rig.Ram(E1000Rig.RxBuffers + (ulong)b * 0x1000, lengths[b]).ToArray());
        Assert.Equal(frame, gathered.ToArray());
        Assert.Equal(2u, _rig.Read(Rdh));   // one 32-byte descriptor: two 16-byte units

        // BSIZE all zero: nowhere to put a frame; counted, never thrown.
        _rig.Write(Psrctl, 0);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Equal(1, _rig.Nic.Counters.DescriptorFaults);
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
    }

    [Fact]
    public void Legacy_icr_read_reports_int_asserted_and_iame_masks_the_iam_causes()
    {
        _rig.Read(Icr);   // the link-up LSC from attaching the port
        _rig.Write(CtrlExt, CtrlExtIame);
        _rig.Write(Iam, 0xFFFF_FFFF);
        _rig.Write(Ims, IcrRxt0 | IcrLsc);
        _rig.Write(Ics, IcrRxt0);
        Assert.True(_rig.IntxAsserted);
        uint icr = _rig.Read(Icr);
        Assert.Equal(IcrRxt0 | IcrAsserted, icr);
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(0u, _rig.Read(Ims));          // auto-masked by the read
        Assert.Equal(0u, _rig.Read(Icr));          // nothing pending: no INT_ASSERTED either
    }

    [Fact]
    public void Msix_routes_receive_transmit_and_other_causes_to_their_ivar_vectors_with_auto_clear()
    {
        _rig.EnableMsix();
        Assert.Equal(InterruptMode.Msix, _rig.Machine.Function(_rig.Slot).Interrupts.Mode);
        // What e1000_configure_msix and e1000_irq_enable write for 82574: rx → 0, tx → 1, other → 2.
        _rig.Write(Ivar, (IvarValid | 0) | (IvarValid | 1) << IvarTxq0Shift | (IvarValid | 2) << IvarOtherShift | 1u << 31);
        _rig.Write(CtrlExt, _rig.Read(CtrlExt) | CtrlExtPbaClr | CtrlExtEiame);
        _rig.Write(Eiac, IcrRxq0 | IcrTxq0);
        _rig.Write(Ims, IcrRxq0 | IcrTxq0 | IcrOther | IcrLsc);
        _rig.SetupRx(16);
        _rig.SetupTx(16);
        _rig.Interrupts.Clear();

        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Equal([0], MsixVectors());
        Assert.Equal(0u, _rig.Read(Ics) & IcrRxq0);   // EIAC: cleared as the message went
        // Another frame before the driver re-arms: a new cause, a new message (no auto-mask: IAM is 0).
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Equal([0, 0], MsixVectors());

        _rig.Interrupts.Clear();
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100));
        Assert.Contains(1, MsixVectors());

        _rig.Interrupts.Clear();
        _rig.Nic.SetCableConnected(false);
        Assert.Equal([2], MsixVectors());
        // "Other" is not in EIAC: it stays until the handler reads ICR.
        Assert.Equal(IcrOther | IcrLsc, _rig.Read(Icr) & (IcrOther | IcrLsc));
        Assert.Equal(0, _rig.Interrupts.Events.Count(e => e.Mode == InterruptMode.Intx && e.Asserted));
        Assert.Equal(0, _rig.Nic.VectorRouting!.Unrouted);
    }

    [Fact]
    public void Msix_with_eiame_masks_the_iam_causes_until_the_driver_re_enables_them()
    {
        _rig.EnableMsix();
        _rig.Write(Ivar, IvarValid | 0);
        _rig.Write(CtrlExt, CtrlExtEiame);
        _rig.Write(Iam, IcrRxq0);
        _rig.Write(Eiac, IcrRxq0);
        _rig.Write(Ims, IcrRxq0);
        _rig.SetupRx(16);
        _rig.Interrupts.Clear();
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Equal([0], MsixVectors());            // masked after the first message
        Assert.Equal(0u, _rig.Read(Ims) & IcrRxq0);
        _rig.Write(Ims, IcrRxq0);                     // e1000e_poll re-enables: the pending cause goes now
        Assert.Equal([0, 0], MsixVectors());
    }

    [Fact]
    public void Invalid_ivar_entries_send_nothing_and_are_counted()
    {
        _rig.EnableMsix();
        _rig.Write(Ivar, 7);   // vector 7 without the valid bit
        _rig.Write(Ims, IcrRxq0);
        _rig.SetupRx(16);
        _rig.Interrupts.Clear();
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Empty(MsixVectors());
        _rig.Write(Ivar, IvarValid | 7);   // valid, but the table has 5 vectors
        _rig.Write(Icr, 0xFFFF_FFFF);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 100));
        Assert.Empty(MsixVectors());
        Assert.Equal(2, _rig.Nic.VectorRouting!.Unrouted);
        Assert.Null(_rig.Machine.Function(_rig.Slot).FailureReason);
    }

    [Fact]
    public void Probe_registers_read_back_what_e1000e_writes()
    {
        // e1000_get_hw_semaphore_82573: the ownership bit latches.
        _rig.Write(ExtcnfCtrl, _rig.Read(ExtcnfCtrl) | ExtcnfMdioSwOwnership);
        Assert.NotEqual(0u, _rig.Read(ExtcnfCtrl) & ExtcnfMdioSwOwnership);
        // e1000_get_cfg_done_82571.
        Assert.NotEqual(0u, _rig.Read(Eemngctl) & EemngctlCfgDone0);
        _rig.Write(CtrlExt, CtrlExtEeRst | 1u << 22);
        Assert.Equal(1u << 22, _rig.Read(CtrlExt));   // EE_RST self-clears
        _rig.Write(Tarc0, 1u << 26 | 3);
        Assert.Equal(1u << 26 | 3, _rig.Read(Tarc0));
        _rig.Write(Gcr, 1u << 22);
        Assert.Equal(1u << 22, _rig.Read(Gcr));
        Assert.Equal(0, _rig.Nic.Counters.UnknownRegisterAccesses);
    }

    private int[] MsixVectors() => _rig.Interrupts.Events.Where(e => e.Mode == InterruptMode.Msix).Select(e => e.Vector).ToArray();

    private ushort ReadNvm(int word)
    {
        _rig.Write(Eerd, (uint)word << EerwAddressShift | EerwStart);
        uint eerd = _rig.Read(Eerd);
        Assert.NotEqual(0u, eerd & EerwDone);
        return (ushort)(eerd >> EerwDataShift);
    }

    private ushort ReadPhy(int register)
    {
        _rig.Write(Mdic, (uint)register << MdicRegisterShift | 1u << MdicPhyShift | MdicOpRead);
        uint mdic = _rig.Read(Mdic);
        Assert.Equal(MdicReady, mdic & (MdicReady | MdicError));
        return (ushort)mdic;
    }

    private void WritePhy(int register, ushort value)
    {
        _rig.Write(Mdic, value | (uint)register << MdicRegisterShift | 1u << MdicPhyShift | MdicOpWrite);
        Assert.Equal(MdicReady, _rig.Read(Mdic) & (MdicReady | MdicError));
    }
}

/// <summary>The 8254x hostile-guest suite against the 82574L (legacy descriptors after reset), plus what only the 82574 has.</summary>
public sealed class E1000eHostileGuestTests : HostileGuestTests
{
    public E1000eHostileGuestTests() : base(i82574: true) { }

    [Fact]
    public void Random_writes_to_the_82574_registers_with_extended_descriptors_and_msix_never_fail_the_function()
    {
        var random = new Random(4321);
        uint[] offsets = [Ivar, Eiac, Iam, CtrlExt, Rfctl, Rxcsum, Psrctl, Eewr, Eerd, Mdic, Ims, Imc, Ics, Icr, Rctl, Rdt, Rdh, Rdlen, Tdt, Tdh];
        Rig.EnableMsix();
        Rig.Write(Rfctl, RfctlExtendedStatus);
        Rig.SetupRx(16, RctlEn | RctlBam | RctlSecrc);
        for (int i = 0; i < 20000; i++)
        {
            uint offset = offsets[random.Next(offsets.Length)];
            Rig.Write(offset, (uint)random.NextInt64(0, 1L << 32));
            if (i % 3 == 0) Rig.Inject(Frames.Raw(random.Next(2) == 0 ? E1000Rig.Mac : MacAddress.Broadcast, random.Next(14, 9000)));
            if (i % 5 == 0) Rig.Read(Icr);
        }
        Assert.Null(Rig.Machine.Function(Rig.Slot).FailureReason);
        Assert.Equal(InterruptMode.Msix, Rig.Machine.Function(Rig.Slot).Interrupts.Mode);
        Rig.Write(Rfctl, 0);
        AssertStillWorks();
    }
}
