using System.Buffers;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// Commands the server sent to the client (DMA_READ/DMA_WRITE) that await their reply. The
/// session's reader thread matches each incoming reply to its request by message ID; the
/// spec lets replies and the client's own commands interleave freely on the one socket.
/// </summary>
/// <remarks>
/// A fixed number of slots bounds what one session can have in flight. IDs increase with every
/// request, so a reply that arrives after its request timed out matches nothing and is dropped.
/// </remarks>
internal sealed class ServerRequestTable
{
    /// <summary>One outstanding request.</summary>
    internal sealed class Slot
    {
        public ushort Id;
        public bool InUse;
        public volatile bool Completed;
        public bool Failed;
        public byte[]? Reply;
        public int ReplyLength;
        public readonly ManualResetEventSlim Done = new(false);

        /// <summary>The reply message (header included) once <see cref="Completed"/> and not <see cref="Failed"/>.</summary>
        public ReadOnlySpan<byte> ReplyMessage => Reply.AsSpan(0, ReplyLength);
    }

    private readonly Slot[] _slots;
    private readonly object _lock = new();
    private ushort _nextId;
    private bool _closed;

    public ServerRequestTable(int capacity)
    {
        _slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++) _slots[i] = new Slot();
    }

    /// <summary>A free slot with a fresh message ID, or null if all are busy or the table is closed.</summary>
    public Slot? TryAcquire()
    {
        lock (_lock)
        {
            if (_closed) return null;
            foreach (var slot in _slots)
            {
                if (slot.InUse) continue;
                slot.InUse = true;
                slot.Id = _nextId++;
                slot.Completed = false;
                slot.Failed = false;
                slot.ReplyLength = 0;
                slot.Done.Reset();
                return slot;
            }
            return null;
        }
    }

    /// <summary>Whether the table was closed (the session is ending).</summary>
    public bool IsClosed
    {
        get { lock (_lock) return _closed; }
    }

    /// <summary>Waits until a slot may be free; false on timeout or when closed.</summary>
    public bool WaitForFreeSlot(int timeoutMilliseconds)
    {
        lock (_lock)
        {
            if (_closed) return false;
            return Monitor.Wait(_lock, timeoutMilliseconds) && !_closed;
        }
    }

    /// <summary>Returns the slot and its reply buffer.</summary>
    public void Release(Slot slot)
    {
        lock (_lock)
        {
            if (slot.Reply is not null) ArrayPool<byte>.Shared.Return(slot.Reply);
            slot.Reply = null;
            slot.InUse = false;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Hands a reply to the waiting request; false if no request has that ID (late or bogus reply).</summary>
    public bool Complete(MessageHeader header, ReadOnlySpan<byte> message)
    {
        lock (_lock)
        {
            foreach (var slot in _slots)
            {
                if (!slot.InUse || slot.Completed || slot.Id != header.MessageId) continue;
                slot.Reply = ArrayPool<byte>.Shared.Rent(message.Length);
                message.CopyTo(slot.Reply);
                slot.ReplyLength = message.Length;
                slot.Completed = true;
                slot.Done.Set();
                return true;
            }
            return false;
        }
    }

    /// <summary>Fails every outstanding request and refuses new ones (the client went away).</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            foreach (var slot in _slots)
            {
                if (!slot.InUse || slot.Completed) continue;
                slot.Failed = true;
                slot.Completed = true;
                slot.Done.Set();
            }
            Monitor.PulseAll(_lock);
        }
    }
}
