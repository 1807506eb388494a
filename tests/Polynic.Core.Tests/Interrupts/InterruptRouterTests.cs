using Polynic.Core.Interrupts;
using Polynic.Core.Tests.Pci;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Interrupts;

public class InterruptRouterTests
{
    private readonly Machine _m = new();
    private readonly ProbeDevice _device = new(ProbeDevice.FullDefinition());
    private readonly int _slot;
    private readonly ulong[] _bars;

    public InterruptRouterTests()
    {
        _slot = _m.Plug(_device);
        _bars = _m.Enumerate(_slot);
    }

    private InterruptRouter Router => _device.Context.Interrupts;
    private InterruptLog Log => _m.Interrupts(_slot);

    [Fact]
    public void Intx_follows_the_or_of_sources_and_sets_interrupt_status()
    {
        Router.SetLevel(0, true);
        Router.SetLevel(3, true);
        Assert.True(Log.IntxAsserted);
        Assert.NotEqual(0u, _m.ConfigRead(_slot, 0x06, 2) & 0x08);
        Router.SetLevel(0, false);
        Assert.True(Log.IntxAsserted);
        Router.SetLevel(3, false);
        Assert.False(Log.IntxAsserted);
        Assert.Equal(0u, _m.ConfigRead(_slot, 0x06, 2) & 0x08);
        Assert.Equal(2, Log.Events.Count);
    }

    [Fact]
    public void Interrupt_disable_masks_the_pin_but_not_the_status_bit()
    {
        Router.SetLevel(0, true);
        _m.ConfigWrite(_slot, 0x04, 0x0407, width: 2);
        Assert.False(Log.IntxAsserted);
        Assert.NotEqual(0u, _m.ConfigRead(_slot, 0x06, 2) & 0x08);
        _m.ConfigWrite(_slot, 0x04, 0x0007, width: 2);
        Assert.True(Log.IntxAsserted);
    }

    [Fact]
    public void Msix_delivers_the_programmed_message_and_holds_masked_vectors_pending()
    {
        int cap = ConfigSpaceTests.CapabilityOffset(_m, _slot, 0x11);
        ulong table = _bars[2];
        ulong pba = _bars[2] + 0x2000;
        _m.MmioWrite(table + 3 * 16 + 0, 0xFEE0_1000);
        _m.MmioWrite(table + 3 * 16 + 4, 0);
        _m.MmioWrite(table + 3 * 16 + 8, 0x4041);
        _m.ConfigWrite(_slot, cap + 2, 0x8000, width: 2);
        Assert.Equal(InterruptMode.Msix, Router.Mode);

        Router.Notify(3);
        Assert.Equal(0, Log.MessageCount);
        Assert.Equal(1u << 3, _m.MmioRead(pba));

        _m.MmioWrite(table + 3 * 16 + 12, 0);
        var e = Assert.Single(Log.Events);
        Assert.Equal(new InterruptEvent(InterruptMode.Msix, 3, true, new MsiMessage(0xFEE0_1000, 0x4041)), e);
        Assert.Equal(0u, _m.MmioRead(pba));

        _m.ConfigWrite(_slot, cap + 2, 0xC000, width: 2);
        Router.Notify(3);
        Assert.Equal(1, Log.MessageCount);
        _m.ConfigWrite(_slot, cap + 2, 0x8000, width: 2);
        Assert.Equal(2, Log.MessageCount);
    }

    [Fact]
    public void Msix_mode_never_asserts_intx()
    {
        int cap = ConfigSpaceTests.CapabilityOffset(_m, _slot, 0x11);
        _m.ConfigWrite(_slot, cap + 2, 0x8000, width: 2);
        Router.SetLevel(1, true);
        Assert.False(Log.IntxAsserted);
        Assert.Equal(0u, _m.ConfigRead(_slot, 0x06, 2) & 0x08);
    }

    [Fact]
    public void Msi_folds_sources_onto_enabled_vectors_and_honours_per_vector_masks()
    {
        int cap = ConfigSpaceTests.CapabilityOffset(_m, _slot, 0x05);
        Assert.Equal(2u, (_m.ConfigRead(_slot, cap + 2, 2) >> 1) & 7); // Multiple Message Capable: 4 vectors
        _m.ConfigWrite(_slot, cap + 4, 0xFEE0_0000);
        _m.ConfigWrite(_slot, cap + 8, 0);
        _m.ConfigWrite(_slot, cap + 12, 0x4060, width: 2);
        _m.ConfigWrite(_slot, cap + 2, 0x0011, width: 2); // enable, 2 vectors allocated (MME=1)
        Assert.Equal(InterruptMode.Msi, Router.Mode);

        Router.Notify(3);
        var e = Assert.Single(Log.Events);
        Assert.Equal(1, e.Vector);
        Assert.Equal(0x4061u, e.Message.Data);

        _m.ConfigWrite(_slot, cap + 16, 0x1);
        Router.Notify(0);
        Assert.Single(Log.Events);
        Assert.Equal(1u, _m.ConfigRead(_slot, cap + 20));
        _m.ConfigWrite(_slot, cap + 16, 0x0);
        Assert.Equal(2, Log.Events.Count);
        Assert.Equal(0u, _m.ConfigRead(_slot, cap + 20));
    }

    [Fact]
    public void Messages_need_bus_mastering()
    {
        int cap = ConfigSpaceTests.CapabilityOffset(_m, _slot, 0x11);
        _m.MmioWrite(_bars[2] + 12, 0);
        _m.ConfigWrite(_slot, cap + 2, 0x8000, width: 2);
        _m.ConfigWrite(_slot, 0x04, 0x0003, width: 2);
        Router.Notify(0);
        Assert.Equal(0, Log.MessageCount);
        Assert.Equal(1, Router.DroppedCount);
    }

    [Fact]
    public void Bad_source_numbers_are_counted_not_thrown()
    {
        Router.SetLevel(-1, true);
        Router.SetLevel(1000, true);
        Router.Notify(int.MaxValue);
        Assert.Equal(3, Router.DroppedCount);
        Assert.Empty(Log.Events);
    }

    [Fact]
    public void Notify_in_intx_mode_is_dropped()
    {
        Router.Notify(0);
        Assert.Empty(Log.Events);
        Assert.Equal(1, Router.DroppedCount);
    }
}
