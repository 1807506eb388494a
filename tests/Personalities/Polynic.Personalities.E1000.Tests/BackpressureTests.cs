using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// When the guest has no receive buffers and the packet buffer is full, the port's thread is
/// held back (as QEMU's can_receive does) instead of the frame being missed, for at most
/// the device's <see cref="NicDevice.ReceiveBackpressureLimit"/>.
/// </summary>
public class BackpressureTests : IDisposable
{
    private readonly E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public async Task A_full_receiver_holds_the_port_until_the_guest_posts_buffers()
    {
        // A limit far beyond anything this test waits for, so a slow machine cannot turn the
        // wait into a miss before the guest's buffers arrive.
        _rig.Nic.ReceiveBackpressureLimit = TimeSpan.FromSeconds(30);
        _rig.SetupRx(8);
        _rig.Write(Rdt, 0);                 // the guest has posted nothing
        var frame = Frames.Raw(E1000Rig.Mac, 1514);
        int buffered = 0;
        while (_rig.Nic.Receiver.HasRoomFor(frame.Length))
        {
            Assert.True(_rig.Inject(frame));
            buffered++;
        }
        Assert.InRange(buffered, 20, 48);   // 48 KiB packet buffer (PBA default)

        var sender = Task.Run(() => _rig.Inject(frame));
        await Task.Delay(30);
        Assert.False(sender.IsCompleted, "the port thread should wait for room");
        _rig.Write(Rdt, 7);                 // the guest posts 7 buffers: room again
        Assert.True(await sender.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, _rig.Nic.Counters.RxNoBuffer);
        Assert.Equal(7, _rig.Nic.Counters.RxFrames);
    }

    [Fact]
    public void A_guest_that_never_posts_buffers_costs_at_most_the_limit_per_frame()
    {
        _rig.SetupRx(8);
        _rig.Write(Rdt, 0);
        var frame = Frames.Raw(E1000Rig.Mac, 1514);
        while (_rig.Nic.Receiver.HasRoomFor(frame.Length)) _rig.Inject(frame);

        var started = System.Diagnostics.Stopwatch.StartNew();
        _rig.Inject(frame);
        Assert.True(started.Elapsed >= _rig.Nic.ReceiveBackpressureLimit * 0.9, $"waited only {started.Elapsed}");
        Assert.True(started.Elapsed < _rig.Nic.ReceiveBackpressureLimit + TimeSpan.FromSeconds(5), $"waited {started.Elapsed}");
        Assert.Equal(1, _rig.Nic.Counters.RxNoBuffer);   // then missed, as the hardware would
    }
}
