using System.Buffers.Binary;
using System.Diagnostics;
using Polynic.Core.Nic;
using Polynic.Core.Tests.Virtio;
using Polynic.Core.Virtio;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.VirtioNet.Tests.Support;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;

namespace Polynic.Personalities.VirtioNet.Tests;

/// <summary>
/// Queues are drained on the device's own worker: a notification returns at once even while the
/// worker is busy, the worker ends on reset and dispose, and a failure on it fails the function.
/// </summary>
public class VirtioNetQueueWorkerTests
{
    private const ulong Basic = VirtioFeatures.Version1 | Mac | Status | Csum | HostTso4 | HostTso6 | GuestCsum | CtrlVq | CtrlRx | MrgRxbuf;

    /// <summary>A port whose sends block until released, or throw.</summary>
    private sealed class GatedPort(bool throws = false) : IPort
    {
        public ManualResetEventSlim Gate { get; } = new(false);
        public ManualResetEventSlim Entered { get; } = new(false);
        public int Sent;
        public string Name => "gated";
        public bool LinkUp => true;
        public PortCapabilities Capabilities => PortCapabilities.None;
        public void Start(IPortReceiver receiver) { }
        public bool Send(ReadOnlySpan<byte> frame)
        {
            if (throws) throw new InvalidOperationException("port broke");
            Entered.Set();
            Gate.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Increment(ref Sent);
            return true;
        }
        public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) => Send(frame);
        public void Dispose() { }
    }

    private static void Notify(VirtioNetRig r, int queue) =>
        r.Write(VirtioPciLayout.NotifyOffset + (uint)queue * VirtioPciLayout.NotifyMultiplier, (uint)queue, 2);

    private static void NotifyDevice(VirtioNetRig r, int queue)
    {
        Span<byte> value = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(value, (ushort)queue);
        r.Nic.WriteBar(0, VirtioPciLayout.NotifyOffset + (uint)queue * VirtioPciLayout.NotifyMultiplier, value);
    }

    private static void Queue(VirtioNetRig r, ulong at)
    {
        var frame = Frames.Raw(VirtioNetRig.Peer, 100);
        new byte[12].CopyTo(r.Ram(at, 12));
        frame.CopyTo(r.Ram(at + 12, frame.Length));
        r.Tx().Add((at, 112u, false));
    }

    [Fact]
    public async Task A_notification_returns_at_once_while_the_queue_is_being_drained_and_the_worker_then_drains_it_again()
    {
        var port = new GatedPort();
        using var r = new VirtioNetRig(port: port);
        r.Start(Basic);
        Queue(r, VirtioNetRig.Buffers);
        // With the worker idle, the notifying thread drains the queue itself (no thread wake-up):
        // this one is held inside the port's send, holding the device lock.
        var first = Task.Run(() => Notify(r, 1));
        Assert.True(port.Entered.Wait(TimeSpan.FromSeconds(10)), "the first notification never sent");
        Assert.False(first.IsCompleted);
        // A notification must not wait for the device lock: it goes to the worker. (The PCI function
        // serialises accesses, as the one vfio-user connection does, so these go to the device directly.)
        Queue(r, VirtioNetRig.Buffers + 0x1000);
        var clock = Stopwatch.StartNew();
        NotifyDevice(r, 1);
        NotifyDevice(r, 0);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"notification took {clock.ElapsedMilliseconds} ms");
        port.Gate.Set();
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, port.Sent);
        Assert.Equal(2, r.Tx().TakeUsed().Count);
    }

    [Fact]
    public void Reset_ends_the_worker_thread_and_driver_ok_starts_a_new_one()
    {
        using var r = new VirtioNetRig();
        Assert.Null(r.Nic.Worker);
        r.Start(Basic);
        var first = r.Nic.Worker;
        Assert.NotNull(first);
        Assert.True(first.IsRunning);
        r.Write(0x14, 0, 1);   // device_status = 0: reset (4.1.4.3.1)
        Assert.Null(r.Nic.Worker);
        Assert.True(SpinWait.SpinUntil(() => !first.IsRunning, TimeSpan.FromSeconds(5)), "the worker outlived the reset");

        r.Start(Basic);
        var second = r.Nic.Worker;
        Assert.NotNull(second);
        Assert.NotSame(first, second);
        r.Machine.Function(r.Slot).Reset();   // function-level reset through the PCI core
        Assert.True(SpinWait.SpinUntil(() => !second.IsRunning, TimeSpan.FromSeconds(5)), "the worker outlived the function reset");
    }

    [Fact]
    public void Dispose_ends_the_worker_and_later_notifications_are_ignored()
    {
        var r = new VirtioNetRig();
        r.Start(Basic);
        var worker = r.Nic.Worker!;
        r.Dispose();
        Assert.False(worker.IsRunning);
        Notify(r, 1);
        Assert.Null(r.Nic.Worker);
    }

    [Fact]
    public void An_exception_on_the_worker_fails_the_function_and_ends_the_worker()
    {
        using var r = new VirtioNetRig(port: new GatedPort(throws: true));
        r.Start(Basic);
        var worker = r.Nic.Worker!;
        Queue(r, VirtioNetRig.Buffers);
        Notify(r, 1);
        Assert.True(SpinWait.SpinUntil(() => r.Machine.Function(r.Slot).FailureReason is not null, TimeSpan.FromSeconds(10)));
        Assert.Contains("queue worker", r.Machine.Function(r.Slot).FailureReason);
        Assert.True(SpinWait.SpinUntil(() => !worker.IsRunning, TimeSpan.FromSeconds(5)));
    }

    private const ulong WithEventIndex = Basic | VirtioFeatures.EventIndex;

    /// <summary>
    /// After a first completion (which always interrupts: the device has not told the driver
    /// anything yet), sends a second frame with a long completion delay and waits until the worker
    /// has returned it, without waiting for the delay.
    /// </summary>
    private static VirtioNetRig SendOneAndSeeItUsed()
    {
        var r = new VirtioNetRig();
        r.EnableMsix();
        r.Start(WithEventIndex);
        Queue(r, VirtioNetRig.Buffers);
        r.Kick(1);
        Assert.Single(r.Interrupts.Events, e => e.Vector == 2);
        r.Tx().TakeUsed();
        r.Nic.Transmitter.CompletionDelayMicroseconds = 2_000_000;
        r.Tx().SetUsedEvent(1);   // as Linux after virtqueue_enable_cb_delayed with nothing outstanding
        r.Interrupts.Clear();
        Queue(r, VirtioNetRig.Buffers + 0x1000);
        Notify(r, 1);
        Assert.True(SpinWait.SpinUntil(() => r.Tx().UsedIndex == 2, TimeSpan.FromSeconds(10)), "the worker never returned the buffer");
        return r;
    }

    [Fact]
    public void A_transmit_completion_interrupts_only_after_the_delay()
    {
        using var r = SendOneAndSeeItUsed();
        Assert.DoesNotContain(r.Interrupts.Events, e => e.Vector == 2);
        var clock = Stopwatch.StartNew();
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)));
        Assert.Contains(r.Interrupts.Events, e => e.Vector == 2);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(1), $"interrupted after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void A_transmit_completion_the_driver_reclaimed_during_the_delay_sends_no_interrupt()
    {
        using var r = SendOneAndSeeItUsed();
        // The driver's next transmit freed the buffer itself (free_old_xmit) and moved used_event
        // past it (virtqueue_enable_cb_delayed): it no longer wants to be told.
        r.Tx().TakeUsed();
        r.Tx().SetUsedEvent(2);
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(r.Interrupts.Events, e => e.Vector == 2);
        // The next completion passes used_event 2 and does interrupt, after its own delay.
        r.Nic.Transmitter.CompletionDelayMicroseconds = 1000;
        Queue(r, VirtioNetRig.Buffers + 0x2000);
        r.Kick(1);
        Assert.Single(r.Interrupts.Events, e => e.Vector == 2);
    }

    [Fact]
    public void A_notification_during_a_pending_delay_is_processed_at_once()
    {
        using var r = SendOneAndSeeItUsed();
        Queue(r, VirtioNetRig.Buffers + 0x2000);
        Notify(r, 1);
        Assert.True(SpinWait.SpinUntil(() => r.Tx().UsedIndex == 3, TimeSpan.FromSeconds(1)), "the third frame waited for the second one's delay");
        Assert.DoesNotContain(r.Interrupts.Events, e => e.Vector == 2);
    }

    /// <summary>Linux's kick rule with EVENT_IDX (vring_need_event, virtio 1.2, 2.7.10): after adding buffers old..new-1, kick iff avail_event is among them.</summary>
    private static bool DriverWouldKick(GuestRing ring, ushort old, ushort added) =>
        (ushort)(old + added - ring.AvailEvent - 1) < added;

    [Fact]
    public void While_the_driver_keeps_adding_transmit_buffers_the_device_polls_them_without_asking_for_kicks()
    {
        using var r = new VirtioNetRig();
        r.Start(WithEventIndex);
        // Long enough that the test adds each next buffer before the device's next look.
        r.Nic.Transmitter.CompletionDelayMicroseconds = 250_000;
        Queue(r, VirtioNetRig.Buffers);
        Notify(r, 1);
        Assert.True(SpinWait.SpinUntil(() => r.Tx().UsedIndex == 1, TimeSpan.FromSeconds(10)), "the kicked frame was not sent");
        // The worker will look again: until it finds the ring empty, avail_event stays where it
        // was, and the driver's next buffers need no kick.
        for (ushort i = 1; i < 4; i++)
        {
            Queue(r, VirtioNetRig.Buffers + i * 0x1000UL);
            Assert.False(DriverWouldKick(r.Tx(), i, 1), $"the driver was asked to kick for frame {i + 1} while the device polls");
            ushort expected = (ushort)(i + 1);
            Assert.True(SpinWait.SpinUntil(() => r.Tx().UsedIndex == expected, TimeSpan.FromSeconds(10)), $"frame {i + 1} was not picked up without a kick");
        }
        Assert.Equal(4, r.Wire.Frames.Count);
        Assert.Equal(1, r.Nic.Transport.Queues[1].Notifications);
        // A look that finds the ring empty re-arms notifications and ends the polling: the next buffer needs a kick again.
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)), "the device kept polling an empty ring");
        Queue(r, VirtioNetRig.Buffers + 0x8000);
        Assert.True(DriverWouldKick(r.Tx(), 4, 1), $"avail_event {r.Tx().AvailEvent} after the ring went quiet");
        r.Kick(1);
        Assert.Equal(5, r.Wire.Frames.Count);
    }

    [Fact]
    public void A_driver_that_never_stops_adding_transmit_buffers_costs_one_bounded_look_per_period()
    {
        using var r = new VirtioNetRig();
        r.Start(WithEventIndex);
        r.Nic.Transmitter.CompletionDelayMicroseconds = 2_000;
        // A hostile driver: the available index always runs a full ring ahead of what the device used.
        using var stop = new CancellationTokenSource();
        var ring = r.Tx();
        var frame = Frames.Raw(VirtioNetRig.Peer, 100);
        new byte[12].CopyTo(r.Ram(VirtioNetRig.Buffers, 12));
        frame.CopyTo(r.Ram(VirtioNetRig.Buffers + 12, frame.Length));
        for (ushort d = 0; d < VirtioNetRig.RingSize; d++) ring.SetDescriptor(d, VirtioNetRig.Buffers, 112, 0, 0);
        for (ushort slot = 0; slot < VirtioNetRig.RingSize; slot++) ring.Publish(slot);
        using var flooding = new ManualResetEventSlim();
        var flood = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                // It keeps the kick rule (EVENT_IDX, 2.7.10): on a loaded machine this thread can
                // stall for longer than the poll period, the device then finds the ring empty and
                // re-arms, and a driver that never kicked would leave it idle from then on.
                ushort old = BinaryPrimitives.ReadUInt16LittleEndian(r.Ram(ring.Avail + 2, 2));
                ushort now = (ushort)(ring.UsedIndex + VirtioNetRig.RingSize);
                ring.SetAvailIndex(now);
                if (now != old && DriverWouldKick(ring, old, (ushort)(now - old))) Notify(r, 1);
                flooding.Set();
                Thread.Yield();
            }
        });
        flood.Start();
        Assert.True(flooding.Wait(TimeSpan.FromSeconds(10)));
        var sinceKick = Stopwatch.StartNew();
        Notify(r, 1);
        Thread.Sleep(300);
        // The device lock is free between looks: a register read (which takes it) answers promptly.
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) r.Read(0x14, 1);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"20 register reads took {clock.ElapsedMilliseconds} ms");
        stop.Cancel();
        flood.Join();
        Assert.True(r.Nic.WaitForQueues(TimeSpan.FromSeconds(10)), "the device kept polling after the driver stopped");
        // At most a ring's worth per look: one per 2 ms period, one per kick (the first, and any the
        // driver sent after a look found the ring empty), and a last one that finds it empty.
        long looks = 1 + sinceKick.ElapsedMilliseconds / 2 + r.Nic.Transport.Queues[1].Notifications;
        Assert.InRange(r.Wire.Frames.Count, 2 * VirtioNetRig.RingSize, VirtioNetRig.RingSize * looks);
    }

    [Fact]
    public void A_control_command_added_while_the_device_answers_the_previous_one_is_answered_without_a_kick()
    {
        using var r = new VirtioNetRig();
        r.EnableMsix();
        r.Start(WithEventIndex);
        const ulong first = 0x30_0000, second = 0x31_0000;
        // VIRTIO_NET_CTRL_RX (0) PROMISC (0) off, then ALLMULTI (1) on; answers pre-set to 0xEE.
        byte[][] commands = [[0, 0, 0], [0, 1, 1]];
        commands[0].CopyTo(r.Ram(first, 3));
        commands[1].CopyTo(r.Ram(second, 3));
        r.Ram(first + 0x1000, 1)[0] = r.Ram(second + 0x1000, 1)[0] = 0xEE;
        int controlVector = r.Nic.Transport.Queues.Count;
        bool added = false;
        // Linux spins for each answer (holding RTNL) and queues the next command at once: here the
        // second command arrives just after the first answer's interrupt, before the device re-arms
        // notifications, so the driver read the old avail_event and does not kick.
        r.Interrupts.Signalled = e =>
        {
            if (e.Vector != controlVector || added) return;
            added = true;
            r.Ctrl.Add((second, 3, false), (second + 0x1000, 1, true));
        };
        r.Ctrl.Add((first, 3, false), (first + 0x1000, 1, true));
        r.Kick(r.Nic.Transport.Queues.Count - 1);
        Assert.True(added, "the control queue never interrupted");
        Assert.Equal(0, r.Ram(first + 0x1000, 1)[0]);
        Assert.Equal(0, r.Ram(second + 0x1000, 1)[0]);
        Assert.Equal(2, r.Ctrl.UsedIndex);
        Assert.True(r.Nic.Filter.AllMulticast);
    }
}
