using Polynic.Core.Nic;
using Polynic.Core.Tests.Pci;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Nic;

public class InterruptCausesTests
{
    private readonly List<bool> _edges = [];

    private InterruptCauses Causes() => new(level => _edges.Add(level));

    [Fact]
    public void Line_follows_cause_and_mask_and_changes_only_on_edges()
    {
        var c = Causes();
        c.Raise(0x80);                  // e1000 RXT0 while masked: no interrupt
        Assert.Empty(_edges);
        c.Enable(0x80 | 0x04);          // IMS write
        Assert.Equal([true], _edges);
        c.Raise(0x04);                  // LSC while already asserted: no new edge
        Assert.Single(_edges);
        c.Acknowledge(0x80);
        Assert.True(c.Asserted);
        Assert.Equal(0x04u, c.ReadAndClear());
        Assert.Equal([true, false], _edges);
        Assert.Equal(0u, c.Cause);
    }

    [Fact]
    public void Disable_lowers_the_line_but_keeps_the_cause()
    {
        var c = Causes();
        c.SetMask(0xFFFF);
        c.Raise(0x1);
        c.Disable(0x1);                 // IMC
        Assert.False(c.Asserted);
        Assert.Equal(0x1u, c.Cause);
        Assert.Equal(0u, c.Pending);
        c.Reset();
        Assert.Equal((0u, 0u), (c.Cause, c.Mask));
    }

    [Fact]
    public void Moderation_holds_rising_edges_until_update_but_never_falling_ones()
    {
        var gate = new Gate { Open = false };
        var c = Causes();
        c.Moderation = gate;
        c.Enable(0x80);
        c.Raise(0x80);
        Assert.False(c.Asserted);
        Assert.Equal(1, c.HeldBack);
        Assert.Equal(0x80u, gate.LastPending);
        gate.Open = true;
        c.Update();                     // the ITR interval ended
        Assert.True(c.Asserted);
        gate.Open = false;
        c.Acknowledge(0x80);            // falling edges are never held
        Assert.False(c.Asserted);
        Assert.Equal([true, false], _edges);
        Assert.Equal(1, c.Assertions);
    }

    [Fact]
    public void Raising_a_pending_cause_again_changes_nothing_but_asks_a_moderation_that_holds_the_edge_again()
    {
        var gate = new Gate { Open = true };
        var c = Causes();
        c.Moderation = gate;
        c.Raise(0x80);                  // masked: pending in the cause register only
        c.Raise(0x80);
        Assert.Equal(0x80u, c.Cause);
        Assert.Empty(_edges);
        c.Enable(0x80);
        c.Raise(0x80);                  // already asserted
        Assert.Equal([true], _edges);
        c.Acknowledge(0x80);
        gate.Open = false;
        c.Raise(0x80);
        c.Raise(0x80);                  // the held-back edge is asked for again, as before
        Assert.Equal(2, c.HeldBack);
        gate.Open = true;
        c.Raise(0x80);
        Assert.True(c.Asserted);
        Assert.Equal([true, false, true], _edges);
    }

    [Fact]
    public void Drives_the_pci_interrupt_router_intx_pin()
    {
        var m = new Machine();
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        int slot = m.Plug(device);
        m.Enumerate(slot);
        var c = new InterruptCauses(device.Context.Interrupts, source: 0);
        c.Enable(0x1);
        c.Raise(0x1);
        Assert.True(m.Interrupts(slot).IntxAsserted);
        c.ReadAndClear();
        Assert.False(m.Interrupts(slot).IntxAsserted);
    }

    private sealed class Gate : IInterruptModeration
    {
        public bool Open { get; set; }
        public uint LastPending { get; private set; }
        public bool AllowAssert(uint pending) { LastPending = pending; return Open; }
    }
}
