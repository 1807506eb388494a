using System.Diagnostics;
using Polynic.Core.Nic;

namespace Polynic.Ports.Faults;

/// <summary>Where a <see cref="DelayLine"/> hands frames when they are due, on its own thread.</summary>
internal interface IDelayedDelivery
{
    void DeliverOutbound(ReadOnlySpan<byte> frame, in FrameOffload offload, bool hasOffload);

    void DeliverInbound(ReadOnlySpan<byte> frame);
}

/// <summary>
/// The delay queues of both directions of a <see cref="FaultInjectionPort"/> and the one thread
/// that releases their frames when due (Stopwatch time). Each direction is first-in-first-out;
/// the two directions are independent of each other.
/// </summary>
internal sealed class DelayLine : IDisposable
{
    private readonly object _gate = new();
    private readonly DelayRing _outbound;
    private readonly DelayRing _inbound;
    private readonly IDelayedDelivery _target;
    private readonly Thread _thread;
    private bool _stopping;

    public DelayLine(string name, int frames, int bytes, IDelayedDelivery target)
    {
        _outbound = new DelayRing(frames, bytes);
        _inbound = new DelayRing(frames, bytes);
        _target = target;
        _thread = new Thread(Run) { IsBackground = true, Name = $"{name} fault delay" };
        _thread.Start();
    }

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Whether nothing of that direction waits (then a frame without delay may overtake nothing).</summary>
    public bool IsIdle(bool outbound)
    {
        lock (_gate) return (outbound ? _outbound : _inbound).Count == 0;
    }

    /// <summary>Queues a copy of the frame until <paramref name="due"/> (or after the frame before it); false if full or stopped.</summary>
    public bool TryEnqueue(bool outbound, ReadOnlySpan<byte> frame, in FrameOffload offload, bool hasOffload, long due)
    {
        lock (_gate)
        {
            if (_stopping || !(outbound ? _outbound : _inbound).TryAdd(frame, offload, hasOffload, due)) return false;
            Monitor.Pulse(_gate);
            return true;
        }
    }

    private void Run()
    {
        while (true)
        {
            DelayRing ring;
            DelayRing.Entry entry;
            lock (_gate)
            {
                while (true)
                {
                    if (_stopping) return;
                    ring = Earliest();
                    if (ring.Count == 0)
                    {
                        Monitor.Wait(_gate);
                        continue;
                    }
                    entry = ring.Head;
                    long now = Stopwatch.GetTimestamp();
                    if (entry.Due <= now) break;
                    // Monitor.Wait has millisecond resolution: round up so a frame is never early.
                    Monitor.Wait(_gate, (int)Math.Ceiling(Stopwatch.GetElapsedTime(now, entry.Due).TotalMilliseconds));
                }
            }
            var frame = ring.Bytes(entry);
            if (ring == _outbound) _target.DeliverOutbound(frame, entry.Offload, entry.HasOffload);
            else _target.DeliverInbound(frame);
            lock (_gate)
            {
                // Disposed from inside the delivery: the rings are cleared already.
                if (_stopping) return;
                ring.RemoveHead();
            }
        }
    }

    private DelayRing Earliest()
    {
        if (_outbound.Count == 0) return _inbound;
        if (_inbound.Count == 0) return _outbound;
        return _inbound.Head.Due < _outbound.Head.Due ? _inbound : _outbound;
    }

    /// <summary>Stops the thread (waits for it unless called from it) and discards what is queued.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        if (Thread.CurrentThread != _thread) _thread.Join();
        lock (_gate)
        {
            _outbound.Clear();
            _inbound.Clear();
        }
    }
}
