using Polynic.Ports.Faults;

namespace Polynic.Ports.Tests.Faults;

public sealed class DelayRingTests
{
    private static byte[] Bytes(int length, byte fill) => Enumerable.Repeat(fill, length).ToArray();

    [Fact]
    public void Frames_wrap_to_the_start_when_the_end_has_no_room_and_never_overlap_the_head()
    {
        var ring = new DelayRing(frames: 8, bytes: 100);
        Assert.True(ring.TryAdd(Bytes(40, 1), default, false, 10));
        Assert.True(ring.TryAdd(Bytes(40, 2), default, false, 20));
        Assert.False(ring.TryAdd(Bytes(30, 3), default, false, 30));  // 20 left at the end, head at 0

        ring.RemoveHead();                                               // bytes 0..39 free
        Assert.True(ring.TryAdd(Bytes(30, 3), default, false, 30));     // wraps to 0
        Assert.False(ring.TryAdd(Bytes(11, 4), default, false, 40));    // 30..39 is only 10 bytes
        Assert.True(ring.TryAdd(Bytes(10, 4), default, false, 40));

        Assert.Equal(Bytes(40, 2), ring.Bytes(ring.Head).ToArray());
        ring.RemoveHead();
        Assert.Equal(Bytes(30, 3), ring.Bytes(ring.Head).ToArray());
        Assert.Equal(0, ring.Head.Offset);
        ring.RemoveHead();
        Assert.Equal(Bytes(10, 4), ring.Bytes(ring.Head).ToArray());
        Assert.Equal(30, ring.Head.Offset);
    }

    [Fact]
    public void Due_times_never_go_backwards_and_the_entry_count_is_bounded()
    {
        var ring = new DelayRing(frames: 3, bytes: 1000);
        Assert.True(ring.TryAdd(Bytes(10, 1), default, false, 100));
        Assert.True(ring.TryAdd(Bytes(10, 2), default, false, 50));
        Assert.True(ring.TryAdd(Bytes(10, 3), default, false, 150));
        Assert.False(ring.TryAdd(Bytes(10, 4), default, false, 200));

        Assert.Equal(100, ring.Head.Due);
        ring.RemoveHead();
        Assert.Equal(100, ring.Head.Due);
        ring.RemoveHead();
        Assert.Equal(150, ring.Head.Due);
        Assert.False(ring.TryAdd(Bytes(1001, 5), default, false, 0));
    }
}
