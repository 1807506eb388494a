using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>ICR/ICS/IMS/IMC semantics, the ethtool interrupt test (expectations doc 2.3), iPXE polling and moderation.</summary>
public class InterruptTests : IDisposable
{
    private readonly E1000Rig _rig = new();

    public InterruptTests() => _rig.Read(Icr);

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Ethtool_interrupt_test_passes_in_strict_mode()
    {
        // Handler: test_icr |= ICR (read-to-clear), called whenever the line is asserted.
        uint testIcr = 0;
        void Service()
        {
            if (_rig.IntxAsserted) testIcr |= _rig.Read(Icr);
        }

        _rig.Write(Imc, 0xFFFFFFFF);
        for (int i = 0; i < 10; i++)
        {
            uint mask = 1u << i;

            testIcr = 0;
            _rig.Write(Imc, mask);
            _rig.Write(Ics, mask);
            Service();
            Assert.True((testIcr & mask) == 0, $"bit {i}: interrupt while masked (code 3)");

            testIcr = 0;
            _rig.Write(Ims, mask);
            _rig.Write(Ics, mask);
            Service();
            Assert.True((testIcr & mask) != 0, $"bit {i}: no interrupt when enabled (code 4)");

            testIcr = 0;
            _rig.Write(Imc, ~mask & 0x7FFF);
            _rig.Write(Ics, ~mask & 0x7FFF);
            Service();
            Assert.True(testIcr == 0, $"bit {i}: interrupt from other causes (code 5)");
        }
        _rig.Write(Imc, 0xFFFFFFFF);
        Assert.False(_rig.IntxAsserted);
    }

    [Fact]
    public void Icr_read_clears_every_cause_and_deasserts()
    {
        _rig.Write(Ims, IcrRxt0);
        _rig.Write(Ics, IcrRxt0 | IcrTxdw | 1u << 5);
        Assert.True(_rig.IntxAsserted);
        Assert.Equal(IcrRxt0 | IcrTxdw | 1u << 5, _rig.Read(Ics));   // ICS reads ICR without clearing
        Assert.Equal(IcrRxt0 | IcrTxdw | 1u << 5, _rig.Read(Icr));
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(0u, _rig.Read(Icr));
        Assert.Equal(IcrRxt0, _rig.Read(Ims));
        Assert.Equal(0u, _rig.Read(Imc));
    }

    [Fact]
    public void Enabling_a_pending_cause_asserts_at_once_and_imc_deasserts()
    {
        _rig.Write(Ics, IcrLsc);
        Assert.False(_rig.IntxAsserted);
        _rig.Write(Ims, 0x9D);
        Assert.True(_rig.IntxAsserted);
        _rig.Write(Imc, 0xFFFFFFFF);
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(IcrLsc, _rig.Read(Icr));
    }

    [Fact]
    public void Writing_icr_clears_the_written_causes()
    {
        _rig.Write(Ics, IcrLsc | IcrRxt0);
        _rig.Write(Icr, IcrLsc);
        Assert.Equal(IcrRxt0, _rig.Read(Icr));
    }

    [Fact]
    public void Causes_latch_with_interrupts_masked_for_ipxe_polling()
    {
        _rig.Write(Imc, 0xFFFFFFFF);
        _rig.SetupRx(16, RctlEn | RctlBam | RctlUpe | RctlMpe | RctlSecrc);
        _rig.SetupTx(16, TctlEn | TctlPsp | 0x0F << 4 | 0x40 << 12);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 60));
        _rig.Inject(Frames.Raw(E1000Rig.Mac, 60));
        uint icr = _rig.Read(Icr);
        Assert.Equal(IcrTxdw | IcrRxt0, icr & (IcrTxdw | IcrRxt0));
        Assert.False(_rig.IntxAsserted);
    }

    [Fact]
    public void Itr_throttles_the_second_interrupt_until_the_interval_ends()
    {
        _rig.Write(Itr, 1000);   // 256 µs
        _rig.Write(Ims, IcrRxt0);
        _rig.Write(Ics, IcrRxt0);
        Assert.True(_rig.IntxAsserted);
        _rig.Read(Icr);
        _rig.Write(Ics, IcrRxt0);
        Assert.False(_rig.IntxAsserted);
        _rig.Time.Advance(TimeSpan.FromMicroseconds(300));
        Assert.True(_rig.IntxAsserted);
        _rig.Read(Icr);
        _rig.Time.Advance(TimeSpan.FromMilliseconds(10));
        _rig.Write(Ics, IcrRxt0);
        Assert.True(_rig.IntxAsserted);   // a cause after a quiet interval is not delayed
    }

    [Fact]
    public void Rdtr_delays_rxt0_per_frame_and_radv_bounds_it()
    {
        _rig.SetupRx(64);
        _rig.Write(Rdtr, 100);   // 102.4 µs, restarted per frame
        _rig.Write(Radv, 250);   // 256 µs absolute
        _rig.Write(Ims, IcrRxt0);
        for (int i = 0; i < 4; i++)
        {
            _rig.Inject(Frames.Raw(Polynic.Core.Nic.MacAddress.Broadcast, 64));
            Assert.False(_rig.IntxAsserted);
            _rig.Time.Advance(TimeSpan.FromMicroseconds(60));
        }
        // 240 µs in: the packet timer keeps restarting, the absolute timer fires at 256 µs.
        _rig.Time.Advance(TimeSpan.FromMicroseconds(20));
        Assert.True(_rig.IntxAsserted);
        Assert.Equal(IcrRxt0, _rig.Read(Icr) & IcrRxt0);
    }

    [Fact]
    public void Rdtr_flush_bit_fires_the_pending_receive_interrupt()
    {
        _rig.SetupRx(16);
        _rig.Write(Rdtr, 1000);
        _rig.Write(Ims, IcrRxt0);
        _rig.Inject(Frames.Raw(Polynic.Core.Nic.MacAddress.Broadcast, 64));
        Assert.False(_rig.IntxAsserted);
        _rig.Write(Rdtr, 1000 | RdtrFlushPartial);
        Assert.True(_rig.IntxAsserted);
        Assert.Equal(1000u, _rig.Read(Rdtr));
    }

    [Fact]
    public void Tidv_delays_txdw_for_ide_descriptors_only()
    {
        _rig.SetupTx(16);
        _rig.Write(Tidv, 8);
        _rig.Write(Tadv, 32);
        _rig.Write(Ims, IcrTxdw);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100), extraCmd: TransmitDescriptor.CmdIde);
        Assert.False(_rig.IntxAsserted);
        _rig.Time.Advance(TimeSpan.FromMicroseconds(10));
        Assert.True(_rig.IntxAsserted);
        _rig.Read(Icr);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100));
        Assert.True(_rig.IntxAsserted);
    }

    [Fact]
    public void No_cause_appears_on_its_own_after_a_reset()
    {
        _rig.LinuxResetHw();
        _rig.Write(Ims, 0xFFFF);
        _rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_rig.IntxAsserted);
        Assert.Equal(0u, _rig.Read(Icr));
    }
}
