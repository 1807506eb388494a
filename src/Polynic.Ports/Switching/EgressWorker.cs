using System.Collections.Concurrent;
using Polynic.Core.Nic;

namespace Polynic.Ports.Switching;

/// <summary>
/// The delivery thread of one <see cref="SwitchPort"/>: drains its <see cref="EgressRing"/> into
/// the port's receiver in batches, and delivers link changes. This is what keeps the switch free
/// of deadlocks: a NIC sends while holding its own lock, and the switch only copies the frame
/// into the destination's ring; the destination NIC's lock is taken on this thread, which holds
/// nothing else.
/// </summary>
internal sealed class EgressWorker
{
    // Frames delivered before the counters are published and link changes looked at again.
    private const int BatchLimit = 64;
    // Idle rounds spun before sleeping: under load the producer refills the ring within
    // microseconds, and a sleep/wake pair (futex) costs more than the frames it carries.
    private const int SpinRounds = 64;

    private readonly EgressRing _ring;
    private readonly SwitchPort _port;
    private readonly IPortReceiver _receiver;
    private readonly ConcurrentQueue<bool> _links = new();
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly Thread _thread;
    private int _sleeping;
    private volatile bool _stopping;
    private volatile bool _linkDownOnStop;

    public EgressWorker(SwitchPort port, EgressRing ring, IPortReceiver receiver)
    {
        _port = port;
        _ring = ring;
        _receiver = receiver;
        _thread = new Thread(Run) { IsBackground = true, Name = $"{port.Name} egress" };
        _thread.Start();
    }

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Wakes the thread if it sleeps; producers call this after publishing a frame.</summary>
    public void Notify()
    {
        // Dekker-style: the fence orders the producer's publish before its read of _sleeping,
        // as the consumer's exchange orders its write of _sleeping before its last look at the ring.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0) _wake.Set();
    }

    /// <summary>Queues a link change for the receiver.</summary>
    public void EnqueueLink(bool up)
    {
        _links.Enqueue(up);
        Notify();
    }

    /// <summary>
    /// Stops the thread (waiting for it unless called from it). With <paramref name="linkDown"/>
    /// the receiver hears LinkChanged(false) first. Frames still queued are not delivered.
    /// </summary>
    public void Stop(bool linkDown)
    {
        _linkDownOnStop = linkDown;
        _stopping = true;
        Volatile.Write(ref _sleeping, 0);
        _wake.Set();
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    private void Run()
    {
        int idle = 0;
        while (!_stopping)
        {
            if (!_links.IsEmpty) DeliverLinks();
            if (DeliverBatch() > 0)
            {
                idle = 0;
                continue;
            }
            if (++idle < SpinRounds)
            {
                if (idle < SpinRounds / 2) Thread.SpinWait(32);
                else Thread.Yield();
                continue;
            }
            _wake.Reset();
            Interlocked.Exchange(ref _sleeping, 1);
            if (!_ring.HasFrame && _links.IsEmpty && !_stopping) _wake.Wait();
            Volatile.Write(ref _sleeping, 0);
            idle = 0;
        }
        if (_linkDownOnStop) Deliver(false);
    }

    private int DeliverBatch()
    {
        int frames = 0;
        long bytes = 0;
        while (frames < BatchLimit && _ring.TryPeek(out var frame))
        {
            try
            {
                _receiver.Receive(frame);
            }
            catch (Exception exception)
            {
                _port.OnReceiverFault(exception);
            }
            bytes += frame.Length;
            frames++;
            _ring.Advance();
        }
        if (frames == 0) return 0;
        _ring.Commit();
        _port.Counters.CountOut(frames, bytes);
        return frames;
    }

    private void DeliverLinks()
    {
        while (_links.TryDequeue(out bool up)) Deliver(up);
    }

    private void Deliver(bool up)
    {
        try
        {
            _receiver.LinkChanged(up);
        }
        catch (Exception exception)
        {
            _port.OnReceiverFault(exception);
        }
    }
}
