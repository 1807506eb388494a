using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>What Linux e1000_probe and iPXE intel_probe do before the first frame (expectations doc 1, 4).</summary>
public class ProbeTests : IDisposable
{
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Identity_and_bars_are_those_of_an_82540EM()
    {
        Assert.Equal(0x100E_8086u, _rig.Machine.ConfigRead(_rig.Slot, 0));
        Assert.Equal(0x0200_0003u, _rig.Machine.ConfigRead(_rig.Slot, 8));
        Assert.Equal(1u, _rig.Machine.ConfigRead(_rig.Slot, 0x3D, 1));
        var bars = _rig.Nic.Definition.Bars;
        Assert.Contains(bars, b => b is { Index: 0, Kind: BarKind.Memory32, Size: 128 * 1024 });
        Assert.Contains(bars, b => b is { Index: 1, Kind: BarKind.Io, Size: 64 });
        Assert.NotEqual(0ul, _rig.Io);
        Assert.Equal(_rig.Read(Status), _rig.MmioRead(Status));   // BAR0 decodes on the bus
    }

    [Fact]
    public void Power_on_loads_the_mac_into_ral0_rah0_with_address_valid()
    {
        var (low, high) = E1000Rig.Mac.ToLowHigh();
        Assert.Equal(low, _rig.Read(Ral));
        Assert.Equal(high | RahAddressValid, _rig.Read(Rah));
    }

    [Fact]
    public void Reset_through_the_io_window_restores_registers_and_reloads_the_mac()
    {
        _rig.Write(Ral, 0xDEADBEEF);
        _rig.Write(Rah, 0);
        _rig.Write(Rctl, RctlEn | RctlUpe);
        _rig.Write(Ims, IcrRxt0);
        _rig.Write(Ics, IcrRxt0);
        Assert.True(_rig.IntxAsserted);

        _rig.LinuxResetHw();

        Assert.Equal(0u, _rig.Read(Rctl));
        Assert.Equal(0u, _rig.Read(Ims));
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(0u, _rig.Read(Ctrl) & CtrlRst);
        var (low, high) = E1000Rig.Mac.ToLowHigh();
        Assert.Equal(low, _rig.Read(Ral));
        Assert.Equal(high | RahAddressValid, _rig.Read(Rah));
        Assert.Equal((uint)Ctrl, _rig.IoRead(0));
    }

    [Fact]
    public void Reset_through_mmio_works_too_and_keeps_the_phy()
    {
        MdicWrite(0x10, 0x0808);
        _rig.Write(Vet, 0x1234);
        _rig.Write(Ctrl, _rig.Read(Ctrl) | CtrlRst);
        Assert.Equal(0x8100u, _rig.Read(Vet));
        Assert.Equal(0x0808, MdicRead(0x10));
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
    }

    [Fact]
    public void Eeprom_bit_bang_reads_all_64_words_summing_to_babа()
    {
        var words = new EepromBitBang(_rig).ReadAll(64);
        ushort sum = 0;
        foreach (var w in words) sum += w;
        Assert.Equal(0xBABA, sum);
        Assert.Equal((ushort)(E1000Rig.Mac[0] | E1000Rig.Mac[1] << 8), words[0]);
        Assert.Equal((ushort)(E1000Rig.Mac[4] | E1000Rig.Mac[5] << 8), words[2]);
        Assert.Equal(0x4D01, words[0x24]);
        Assert.Equal(0x3040, words[0x0F]);
        Assert.Equal(0xFFFF, words[0x04]);
    }

    [Fact]
    public void Eeprom_writes_like_ethtool_e_persist_across_resets_and_feed_ral0()
    {
        var eeprom = new EepromBitBang(_rig);
        var words = eeprom.ReadAll(64);
        ushort newWord0 = 0x5502;   // MAC 02:55:...
        ushort checksum = (ushort)(words[0x3F] + words[0] - newWord0);
        eeprom.Write(0, newWord0);
        eeprom.Write(0x3F, checksum);
        _rig.LinuxResetHw();
        var after = eeprom.ReadAll(64);
        ushort sum = 0;
        foreach (var w in after) sum += w;
        Assert.Equal(0xBABA, sum);
        Assert.Equal(newWord0, after[0]);
        Assert.Equal(0x5502u, _rig.Read(Ral) & 0xFFFF);
    }

    [Fact]
    public void Eecd_reports_present_64_words_and_grant_only_while_requested()
    {
        uint eecd = _rig.Read(Eecd);
        Assert.Equal(EecdPres, eecd & (EecdPres | EecdSize | EecdGnt));
        _rig.Write(Eecd, EecdReq);
        Assert.Equal(EecdGnt, _rig.Read(Eecd) & EecdGnt);
        Assert.Equal(EecdDo, _rig.Read(Eecd) & EecdDo);   // idle DO reads 1
    }

    [Fact]
    public void Eerd_reads_words_at_once_the_way_ipxe_does()
    {
        for (uint word = 0; word < 3; word++)
        {
            _rig.Write(Eerd, word << 8 | 1);
            uint v = _rig.Read(Eerd);
            Assert.Equal(1u << 4, v & (1u << 4));
            ushort expected = (ushort)(E1000Rig.Mac[(int)word * 2] | E1000Rig.Mac[(int)word * 2 + 1] << 8);
            Assert.Equal(expected, (ushort)(v >> 16));
        }
    }

    [Fact]
    public void Mdic_reads_the_m88e1011_identity_and_link_up_registers()
    {
        Assert.Equal(0x0141, MdicRead(2));
        Assert.Equal(0x0C20, MdicRead(3) & 0xFFF0);
        Assert.Equal(0x796D, MdicRead(1));
        Assert.Equal(0x796D, MdicRead(1));
        Assert.Equal(0x3C00, MdicRead(0x0A));
        Assert.Equal(0xAC00, MdicRead(0x11));
        Assert.Equal(0, MdicRead(0x15));
        Assert.Equal(0x1140, MdicRead(0));
    }

    [Fact]
    public void Mdic_to_another_phy_address_fails_and_bmcr_self_clearing_bits_read_zero()
    {
        _rig.Write(Mdic, MdicOpRead | 2u << MdicPhyShift | 2u << MdicRegisterShift);
        uint v = _rig.Read(Mdic);
        Assert.Equal(MdicReady | MdicError, v & (MdicReady | MdicError));

        MdicWrite(0, 0x1340);   // AN enable + restart, the Linux autoneg kick
        Assert.Equal(0, MdicRead(0) & 0x8200);
        Assert.Equal(0x796D, MdicRead(1));
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
    }

    [Fact]
    public void Mdic_completion_interrupt_sets_mdac()
    {
        _rig.Write(Mdic, MdicOpRead | 1u << MdicPhyShift | 2u << MdicRegisterShift | MdicInterruptEnable);
        Assert.Equal(IcrMdac, _rig.Read(Icr) & IcrMdac);
    }

    [Fact]
    public void Status_reports_1000_full_link_up_and_ignores_writes()
    {
        uint status = _rig.Read(Status);
        Assert.Equal(StatusLu | StatusFd | StatusSpeed1000, status & (StatusLu | StatusFd | 3u << 6));
        Assert.Equal(0u, status & (1u << 5 | 1u << 4 | 7u << 11));
        _rig.Write(Status, 0xFFFF_F833);
        Assert.Equal(status, _rig.Read(Status));
    }

    [Fact]
    public void Link_changes_raise_lsc_and_move_status_bmsr_and_pssr_together()
    {
        _rig.Read(Icr);
        _rig.Pair.Disconnect();
        Assert.Equal(IcrLsc, _rig.Read(Icr) & IcrLsc);
        Assert.Equal(0u, _rig.Read(Status) & StatusLu);
        MdicRead(1);
        Assert.Equal(0, MdicRead(1) & 0x4);
        Assert.Equal(0, MdicRead(0x11) & 0x0400);

        _rig.Pair.Connect();
        Assert.Equal(IcrLsc, _rig.Read(Icr) & IcrLsc);
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
        Assert.Equal(0x4, MdicRead(1) & 0x4);
        Assert.Equal(0x0400, MdicRead(0x11) & 0x0400);
    }

    [Fact]
    public void A_pulled_cable_takes_the_link_down_and_carries_nothing_until_it_is_plugged_back()
    {
        _rig.SetupRx();
        _rig.SetupTx(16);
        _rig.Read(Icr);

        _rig.Nic.SetCableConnected(false);
        Assert.False(_rig.Nic.CableConnected);
        Assert.True(_rig.Nic.PortCarrier);
        Assert.Equal(IcrLsc, _rig.Read(Icr) & IcrLsc);
        Assert.Equal(0u, _rig.Read(Status) & StatusLu);
        Assert.Equal(0, MdicRead(0x11) & 0x0400);
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 60));
        Assert.False(_rig.TryReceive(out _));
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 60));
        Assert.Empty(_rig.Wire.Frames);
        Assert.Equal(1, _rig.Nic.Counters.TxDropped);
        // The port losing carrier while the cable is out changes nothing the guest sees.
        _rig.Pair.Disconnect();
        _rig.Pair.Connect();
        Assert.Equal(0u, _rig.Read(Icr) & IcrLsc);

        _rig.Nic.SetCableConnected(true);
        Assert.Equal(IcrLsc, _rig.Read(Icr) & IcrLsc);
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
        var frame = Frames.Raw(E1000Rig.Mac, 60, seed: 7);
        _rig.Inject(frame);
        Assert.Equal(frame, _rig.ReceiveFrame(out _)![..frame.Length]);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 60));
        Assert.Single(_rig.Wire.Frames);
    }

    [Fact]
    public void Phy_power_down_takes_the_link_down_and_power_up_brings_it_back()
    {
        _rig.Read(Icr);
        MdicWrite(0, (ushort)(MdicRead(0) | 0x0800));
        Assert.Equal(0u, _rig.Read(Status) & StatusLu);
        Assert.Equal(IcrLsc, _rig.Read(Icr));
        MdicWrite(0, (ushort)(MdicRead(0) & ~0x0800));
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
    }

    [Fact]
    public void Without_a_port_the_link_is_down()
    {
        using var rig = new E1000Rig(attachPort: false);
        Assert.Equal(0u, rig.Read(Status) & StatusLu);
        rig.Nic.AttachPort(rig.Pair.A);
        Assert.Equal(StatusLu, rig.Read(Status) & StatusLu);
        Assert.Equal(IcrLsc, rig.Read(Icr) & IcrLsc);
    }

    [Fact]
    public void Ipxe_reset_via_mmio_with_phy_reset_comes_back_with_link()
    {
        uint ctrl = _rig.Read(Ctrl);
        _rig.Write(Ctrl, ctrl | CtrlRst | CtrlPhyRst);
        _rig.Write(Ctrl, (_rig.Read(Ctrl) | CtrlSlu | 1u << 5) & ~(CtrlFrcSpd | CtrlFrcDpx | 1u << 3));
        Assert.Equal(StatusLu, _rig.Read(Status) & StatusLu);
        Assert.Equal(0u, _rig.Read(Ctrl) & (CtrlRst | CtrlPhyRst));
    }

    [Fact]
    public void Pci_function_reset_restores_everything()
    {
        _rig.Write(Rctl, RctlEn);
        MdicWrite(0x10, 0x0808);
        _rig.Machine.Function(_rig.Slot).Reset();
        Assert.Equal(0u, _rig.Machine.Function(_rig.Slot).FailureReason is null ? _rig.Nic.Registers.Get(Rctl) : 1u);
        Assert.Equal(0x0360, _rig.Nic.Phy.Mii.Read(0x10));
    }

    private ushort MdicRead(int register)
    {
        _rig.Write(Mdic, MdicOpRead | 1u << MdicPhyShift | (uint)register << MdicRegisterShift);
        uint v = _rig.Read(Mdic);
        Assert.Equal(MdicReady, v & (MdicReady | MdicError));
        return (ushort)v;
    }

    private void MdicWrite(int register, ushort value)
    {
        _rig.Write(Mdic, MdicOpWrite | 1u << MdicPhyShift | (uint)register << MdicRegisterShift | value);
        Assert.Equal(MdicReady, _rig.Read(Mdic) & MdicReady);
    }
}
