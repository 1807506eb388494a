using Polynic.Core.Nic;
using Polynic.Ports.Switching;
using static Polynic.Ports.Tests.Switching.SwitchTestKit;

namespace Polynic.Ports.Tests.Switching;

/// <summary>
/// Two NICs that each hold their own lock while sending (as NicDevice does) and answer every
/// received frame at once, under that lock: delivered synchronously, A's send would wait for B's
/// lock while B's send waits for A's.
/// </summary>
public sealed class L2SwitchDeadlockTests
{
    private sealed class LockingNic(int station, int peer) : IPortReceiver
    {
        private readonly object _sync = new();
        private readonly byte[] _reply = Frame(Mac(peer), Mac(station));
        public SwitchPort Port = null!;
        public long Received;
        public volatile bool Stopped;

        public void Receive(ReadOnlySpan<byte> frame)
        {
            lock (_sync)
            {
                Received++;
                if (!Stopped) Port.Send(_reply);
            }
        }

        public void LinkChanged(bool up) { }

        public void Transmit()
        {
            lock (_sync) Port.Send(_reply);
        }
    }

    [Fact]
    public void Nics_that_answer_each_other_under_their_locks_do_not_deadlock()
    {
        var bridge = new L2Switch("sw");
        var a = new LockingNic(1, 2);
        var b = new LockingNic(2, 1);
        a.Port = bridge.CreatePort("a", new SwitchPortOptions { EgressQueueCapacity = 64 });
        b.Port = bridge.CreatePort("b", new SwitchPortOptions { EgressQueueCapacity = 64 });
        a.Port.Start(a);
        b.Port.Start(b);

        var run = new Thread(() =>
        {
            // Each NIC's own transmit path keeps sending too, so both directions are busy at once.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            var senders = new[] { a, b }.Select(nic => new Thread(() =>
            {
                while (DateTime.UtcNow < until) nic.Transmit();
            })).ToArray();
            foreach (var sender in senders) sender.Start();
            foreach (var sender in senders) sender.Join();
            a.Stopped = b.Stopped = true;
            bridge.Dispose();
        });
        run.Start();

        Assert.True(run.Join(TimeSpan.FromSeconds(20)), "the two NICs deadlocked");
        Assert.True(a.Received > 1000 && b.Received > 1000, $"a received {a.Received}, b {b.Received}");
        Assert.False(a.Port.IsDelivering);
        Assert.False(b.Port.IsDelivering);
    }
}
