using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Ports.Loopback;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>The device on real threads: the system clock's timers and a port that delivers on a thread of its own.</summary>
public class ThreadingTests
{
    [Fact]
    public void Moderation_timers_fire_on_the_system_clock()
    {
        using var rig = new E1000Rig(systemClock: true);
        rig.SetupRx(16);
        rig.Write(Rdtr, 2000);   // about 2 ms
        rig.Write(Ims, IcrRxt0);
        rig.Inject(Frames.Raw(MacAddress.Broadcast, 64));
        Assert.True(SpinWait.SpinUntil(() => rig.IntxAsserted, TimeSpan.FromSeconds(5)), "RXT0 after RDTR");
        rig.Read(Icr);

        rig.Write(Rdtr, 0);
        rig.Write(Itr, 40_000);   // about 10 ms between interrupts
        Thread.Sleep(50);         // past the interval that began with the RXT0 interrupt
        rig.Write(Ics, IcrRxt0);
        Assert.True(rig.IntxAsserted);
        rig.Read(Icr);
        rig.Write(Ics, IcrRxt0);
        Assert.True(SpinWait.SpinUntil(() => rig.IntxAsserted, TimeSpan.FromSeconds(5)), "the throttled interrupt arrives");
    }

    [Fact]
    public void Frames_from_a_port_thread_and_guest_register_traffic_interleave_safely()
    {
        using var rig = new E1000Rig(delivery: LoopbackDelivery.Queued);
        rig.Wire.Record = false;
        rig.SetupRx(256);
        rig.SetupTx(256);
        var incoming = Frames.Raw(E1000Rig.Mac, 600);
        var outgoing = Frames.Raw(Frames.Peer, 600);
        outgoing.CopyTo(rig.Ram(0x60_0000, outgoing.Length));
        const int count = 3000;

        var sender = new Thread(() =>
        {
            for (int i = 0; i < count; i++)
                while (!rig.Inject(incoming)) Thread.Yield();   // the queue is bounded: retry when full
        });
        sender.Start();
        for (int i = 0; i < count; i++)
        {
            rig.QueueTx(0x60_0000, (uint)outgoing.Length | TransmitDescriptor.CmdEop | TransmitDescriptor.CmdRs, 0);
            rig.Doorbell();
            rig.Write(Rdt, (rig.Read(Rdh) + 255) % 256);   // hand every used receive buffer back
            rig.Read(Icr);
        }
        sender.Join();
        var counters = rig.Nic.Counters;
        bool Settled()
        {
            rig.Write(Rdt, (rig.Read(Rdh) + 255) % 256);   // keeps draining the packet buffer
            return counters.RxFrames + counters.RxNoBuffer == count && rig.Wire.Count == count;
        }
        Assert.True(SpinWait.SpinUntil(Settled, TimeSpan.FromSeconds(20)),
            $"rx {counters.RxFrames} + no buffer {counters.RxNoBuffer}, wire {rig.Wire.Count}");
        Assert.Null(rig.Machine.Function(rig.Slot).FailureReason);
        Assert.Equal(count, (long)rig.Nic.Registers.Get(Statistics.Gptc));
    }
}
