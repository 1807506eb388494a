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

    [Fact]
    public void Vector_routing_sends_one_message_per_newly_pending_cause_in_msix_mode_and_drives_the_line_otherwise()
    {
        var m = new Machine();
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        int slot = m.Plug(device);
        m.Enumerate(slot);
        var routing = new Routing();
        var c = new InterruptCauses(device.Context.Interrupts, source: 0) { VectorRouting = routing };
        // Without MSI-X the routing is not consulted: one INTx line.
        c.Enable(0x3);
        c.Raise(0x1);
        Assert.True(m.Interrupts(slot).IntxAsserted);
        c.ReadAndClear();
        Assert.Equal(0, routing.Routed);

        EnableMsix(m, slot);
        m.Interrupts(slot).Clear();
        c.Raise(0x1);               // routed to vector 3, auto-cleared (ClearCause)
        c.Raise(0x1);               // raised again after the clear: a new message
        c.Raise(0x2);               // vector 5, stays pending: no second message while it does
        c.Raise(0x2);
        Assert.Equal([3, 3, 5], m.Interrupts(slot).Events.Select(e => e.Vector));
        Assert.Equal(0x12u, c.Cause);   // 0x10 from Translate: set, not enabled
        c.Acknowledge(0x2);
        c.Raise(0x2);
        Assert.Equal([3, 3, 5, 5], m.Interrupts(slot).Events.Select(e => e.Vector));
    }

    [Fact]
    public void A_model_that_does_not_drive_the_line_signals_only_through_msix_vectors()
    {
        var m = new Machine();
        var device = new ProbeDevice(ProbeDevice.FullDefinition());
        int slot = m.Plug(device);
        m.Enumerate(slot);
        var c = new InterruptCauses(device.Context.Interrupts, source: 0) { VectorRouting = new Routing(), DrivesLine = false };
        c.Enable(0x3);
        c.Raise(0x2);
        Assert.False(m.Interrupts(slot).IntxAsserted);
        Assert.Equal(0x2u, c.Cause);   // kept, for the guest to read

        EnableMsix(m, slot);
        m.Interrupts(slot).Clear();
        c.Acknowledge(0x2);
        c.Raise(0x2);
        Assert.Equal([5], m.Interrupts(slot).Events.Select(e => e.Vector));
    }

    private static void EnableMsix(Machine m, int slot)
    {
        uint at = m.ConfigRead(slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (m.ConfigRead(slot, (int)at, 1) == 0x11)
            {
                m.ConfigWrite(slot, (int)at + 2, 0x8000, 2);
                Span<byte> zero = stackalloc byte[4];
                zero.Clear();
                for (int v = 0; v < 8; v++) m.Function(slot).WriteBar(2, (ulong)v * 16 + 12, zero);
                return;
            }
            at = m.ConfigRead(slot, (int)at + 1, 1);
        }
        throw new InvalidOperationException("no MSI-X capability");
    }

    /// <summary>Cause 0x1 → vector 3 with auto-clear; cause 0x2 → vector 5, kept; marks translated causes with 0x10 (not enabled).</summary>
    private sealed class Routing : IInterruptVectorRouting
    {
        public int Routed { get; private set; }
        public uint LastTranslated { get; private set; }
        public uint Translate(uint raised) => LastTranslated = raised | 0x10;
        public VectorSignal Route(uint fresh)
        {
            Routed++;
            uint vectors = ((fresh & 0x1) != 0 ? 1u << 3 : 0) | ((fresh & 0x2) != 0 ? 1u << 5 : 0);
            return new VectorSignal(vectors, ClearCause: fresh & 0x1, ClearMask: 0);
        }
    }

    private sealed class Gate : IInterruptModeration
    {
        public bool Open { get; set; }
        public uint LastPending { get; private set; }
        public bool AllowAssert(uint pending) { LastPending = pending; return Open; }
    }
}
