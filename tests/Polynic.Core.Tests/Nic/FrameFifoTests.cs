using Polynic.Core.Nic;

namespace Polynic.Core.Tests.Nic;

public class FrameFifoTests
{
    [Fact]
    public void Frames_come_out_in_order_with_their_tags_across_wraps()
    {
        var fifo = new FrameFifo(1000);
        var random = new Random(5);
        var expected = new Queue<(byte[] Frame, ulong Tag)>();
        ulong next = 0;
        for (int step = 0; step < 20_000; step++)
        {
            if (random.Next(3) != 0)
            {
                var frame = new byte[random.Next(0, 300)];
                random.NextBytes(frame);
                // What a NIC's backpressure asks must be exactly what enqueueing then does.
                bool room = fifo.HasRoomFor(frame.Length);
                Assert.Equal(room, fifo.TryEnqueue(frame, next));
                if (room) expected.Enqueue((frame, next));
                else Assert.True(fifo.UsedBytes + 12 + frame.Length > 700 || fifo.Count > 0, "refused although empty");
                next++;
            }
            else if (fifo.TryPeek(out var frame, out ulong tag))
            {
                var (f, t) = expected.Dequeue();
                Assert.Equal(t, tag);
                Assert.Equal(f, frame.ToArray());
                Assert.True(fifo.TryDequeue());
            }
            Assert.Equal(expected.Count, fifo.Count);
            Assert.InRange(fifo.UsedBytes, 0, 1000);
        }
    }

    [Fact]
    public void Limit_bounds_the_stored_bytes_and_clear_empties()
    {
        var fifo = new FrameFifo(4096) { Limit = 100 };
        Assert.True(fifo.TryEnqueue(new byte[50], 1));
        Assert.False(fifo.TryEnqueue(new byte[50], 2));   // 62 + 62 > 100
        Assert.True(fifo.TryEnqueue(new byte[20], 3));
        Assert.Equal(2, fifo.Count);
        fifo.Clear();
        Assert.False(fifo.TryPeek(out _, out _));
        Assert.False(fifo.TryDequeue());
        Assert.True(fifo.TryEnqueue(new byte[88], 4));
    }

    [Fact]
    public void Enqueue_and_dequeue_allocate_nothing()
    {
        var fifo = new FrameFifo(8192);
        var frame = new byte[1500];
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                fifo.TryEnqueue(frame, (ulong)i);
                fifo.TryEnqueue(frame, (ulong)i);
                fifo.TryPeek(out _, out _);
                fifo.TryDequeue();
                fifo.TryDequeue();
            }
        });
    }
}
