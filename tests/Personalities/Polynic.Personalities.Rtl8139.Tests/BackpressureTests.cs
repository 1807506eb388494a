using Polynic.Core.Nic;
using Polynic.Personalities.Rtl8139.Tests.Support;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>
/// When the ring buffer and the receive FIFO are full, the port's thread is held back until the
/// driver frees room (as QEMU's rtl8139_can_receive does), for at most the device's
/// <see cref="NicDevice.ReceiveBackpressureLimit"/>, instead of the frame being missed: a TCP
/// stream into a guest that reads slower than the port delivers then slows down rather than loses.
/// </summary>
public class BackpressureTests
{
    [Fact]
    public async Task C_mode_full_ring_and_fifo_hold_the_port_until_CAPR_frees_room_and_nothing_is_missed()
    {
        using var rig = new Rtl8139Rig();
        rig.Nic.ReceiveBackpressureLimit = TimeSpan.FromSeconds(30); // far beyond the test's own waits
        rig.StartCMode(lengthIndex: 0);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 1000);
        int injected = 0;
        while (rig.Nic.Receiver.HasRoomFor(frame.Length))
        {
            Assert.True(rig.Inject(frame));
            injected++;
        }
        Assert.InRange(rig.Nic.Receiver.Waiting, 60, 66);        // 64 KiB FIFO of 1000-byte frames
        Assert.Equal(injected, 8 + rig.Nic.Receiver.Waiting);    // and 8 in the 8 KiB ring

        var sender = Task.Run(() => rig.Inject(frame));
        await Task.Delay(50);
        Assert.False(sender.IsCompleted, "the port thread should wait for room");
        Assert.NotNull(rig.ReceiveC());                          // 8139too: one packet read, CAPR written
        Assert.True(await sender.WaitAsync(TimeSpan.FromSeconds(5)));
        int received = 1;
        while (rig.ReceiveC() is { } got) { Assert.Equal(frame, got.Data); received++; }
        Assert.Equal(injected + 1, received);
        Assert.Equal(0u, rig.R32(RxMissed));
        Assert.Equal(0, rig.R16(Rtl8139Rig.IntrStatus) & 0x0040);   // no RxFIFOOver
        // Frames that waited in the FIFO were delivered, not lost: none counts as "no buffer".
        Assert.Equal(0, rig.Nic.Counters.RxNoBuffer);
        Assert.Equal(injected + 1, rig.Nic.Counters.RxFrames);
    }

    [Fact]
    public void A_guest_that_never_reads_costs_at_most_the_limit_per_frame_and_then_the_frame_is_missed()
    {
        using var rig = new Rtl8139Rig();
        rig.Nic.ReceiveBackpressureLimit = TimeSpan.FromMilliseconds(200);
        rig.StartCMode(lengthIndex: 0);
        var frame = Frames.Raw(Rtl8139Rig.Mac, 1000);
        while (rig.Nic.Receiver.HasRoomFor(frame.Length)) rig.Inject(frame);

        var started = System.Diagnostics.Stopwatch.StartNew();
        rig.Inject(frame);
        Assert.True(started.Elapsed >= rig.Nic.ReceiveBackpressureLimit * 0.9, $"waited only {started.Elapsed}");
        Assert.True(started.Elapsed < rig.Nic.ReceiveBackpressureLimit + TimeSpan.FromSeconds(5), $"waited {started.Elapsed}");
        Assert.Equal(1u, rig.R32(RxMissed));   // then missed, as the hardware would
        Assert.Equal(1, rig.Nic.Counters.RxNoBuffer);
    }

    [Fact]
    public void A_receiver_that_is_off_never_holds_the_port()
    {
        using var rig = new Rtl8139Rig();
        rig.Nic.ReceiveBackpressureLimit = TimeSpan.FromSeconds(30);
        Assert.True(rig.Nic.Receiver.HasRoomFor(1514));   // dropped anyway: nothing to wait for
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200; i++) rig.Inject(Frames.Raw(Rtl8139Rig.Mac, 1000));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
    }
}
