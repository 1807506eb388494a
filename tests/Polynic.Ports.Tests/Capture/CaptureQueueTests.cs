using Polynic.Ports.Capture;

namespace Polynic.Ports.Tests.Capture;

public sealed class CaptureQueueTests
{
    [Fact]
    public void Frames_of_random_sizes_come_out_whole_and_in_order_through_many_wraps_of_the_byte_ring()
    {
        var queue = new CaptureQueue(frames: 16, bytes: 4096);
        var expected = new Queue<byte[]>();
        var random = new Random(12);
        var batch = new CaptureQueue.Entry[5];
        int sequence = 0, refused = 0;
        for (int round = 0; round < 20_000; round++)
        {
            if (random.Next(3) != 0)
            {
                var frame = new byte[random.Next(0, 1500)];
                random.NextBytes(frame);
                var outcome = queue.TryAdd(frame, frame.Length + 1, sequence, 0, TimeProvider.System);
                if (outcome == CaptureQueue.Outcome.Queued)
                {
                    expected.Enqueue(frame);
                    sequence++;
                }
                else
                {
                    Assert.Equal(CaptureQueue.Outcome.Full, outcome);
                    refused++;
                }
            }
            else
            {
                int n = queue.Peek(batch.AsSpan(0, random.Next(1, batch.Length + 1)));
                for (int i = 0; i < n; i++)
                {
                    var want = expected.Dequeue();
                    Assert.Equal(want, queue.Bytes(batch[i]).ToArray());
                    Assert.Equal(want.Length + 1, batch[i].OriginalLength);
                }
                queue.Release(n);
            }
        }
        Assert.True(refused > 100 && sequence > 5000, $"{sequence} queued, {refused} refused: the ring was not exercised");
        Assert.Equal(expected.Count == 0, queue.IsEmpty);
    }

    [Fact]
    public void A_closed_queue_refuses_frames_but_keeps_what_it_holds()
    {
        var queue = new CaptureQueue(frames: 2, bytes: 64);
        Assert.Equal(CaptureQueue.Outcome.Queued, queue.TryAdd(new byte[10], 10, 0, 0, TimeProvider.System));
        Assert.Equal(CaptureQueue.Outcome.Queued, queue.TryAdd(new byte[10], 10, 0, 0, TimeProvider.System));
        Assert.Equal(CaptureQueue.Outcome.Full, queue.TryAdd(new byte[10], 10, 0, 0, TimeProvider.System));

        queue.Close();

        Assert.Equal(CaptureQueue.Outcome.Closed, queue.TryAdd(new byte[10], 10, 0, 0, TimeProvider.System));
        var batch = new CaptureQueue.Entry[4];
        Assert.Equal(2, queue.Peek(batch));
    }
}
