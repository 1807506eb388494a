using System.Buffers;

namespace Polynic.Ports.Loopback;

/// <summary>Takes one frame or link change from a <see cref="FrameQueue"/> worker.</summary>
internal interface IQueuedDelivery
{
    void DeliverFrame(ReadOnlySpan<byte> frame);

    void DeliverLink(bool up);
}

/// <summary>
/// A bounded queue of frames (copied into pooled buffers) and link changes, drained in order by
/// one worker thread: the receiving end of a <see cref="LoopbackDelivery.Queued"/> pair.
/// </summary>
internal sealed class FrameQueue : IDisposable
{
    private readonly record struct Entry(byte[]? Buffer, int Length, bool LinkUp);

    private readonly Queue<Entry> _entries = new();
    private readonly object _gate = new();
    private readonly int _capacity;
    private readonly IQueuedDelivery _target;
    private readonly Thread _worker;
    private int _frames;
    private bool _stopping;

    public FrameQueue(string name, int capacity, IQueuedDelivery target)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
        _target = target;
        _worker = new Thread(Run) { IsBackground = true, Name = $"{name} delivery" };
        _worker.Start();
    }

    /// <summary>Whether the worker thread still runs.</summary>
    public bool IsRunning => _worker.IsAlive;

    /// <summary>Copies <paramref name="frame"/> in; false if the queue is full or stopping.</summary>
    public bool TryEnqueueFrame(ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if (_stopping || _frames >= _capacity) return false;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
            frame.CopyTo(buffer);
            _entries.Enqueue(new Entry(buffer, frame.Length, false));
            _frames++;
            Monitor.Pulse(_gate);
            return true;
        }
    }

    /// <summary>Queues a link change behind the frames already queued (never refused).</summary>
    public void EnqueueLink(bool up)
    {
        lock (_gate)
        {
            if (_stopping) return;
            _entries.Enqueue(new Entry(null, 0, up));
            Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        while (true)
        {
            Entry entry;
            lock (_gate)
            {
                while (_entries.Count == 0 && !_stopping) Monitor.Wait(_gate);
                if (_stopping) return;
                entry = _entries.Dequeue();
                if (entry.Buffer is not null) _frames--;
            }
            if (entry.Buffer is null)
            {
                _target.DeliverLink(entry.LinkUp);
                continue;
            }
            try
            {
                _target.DeliverFrame(entry.Buffer.AsSpan(0, entry.Length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(entry.Buffer);
            }
        }
    }

    /// <summary>Stops the worker (waits for it unless called from it) and drops what is still queued.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        if (Thread.CurrentThread != _worker) _worker.Join();
        lock (_gate)
        {
            foreach (var entry in _entries)
                if (entry.Buffer is not null) ArrayPool<byte>.Shared.Return(entry.Buffer);
            _entries.Clear();
        }
    }
}
