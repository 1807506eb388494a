using Polynic.Ports.Sockets;

namespace Polynic.Ports.Tests.Sockets;

/// <summary>Reassembly of QEMU's length-prefixed frames from arbitrary read boundaries.</summary>
public sealed class StreamFrameReaderTests
{
    [Fact]
    public void Frames_split_at_every_byte_boundary_come_out_whole_and_in_order()
    {
        byte[] stream = [.. SocketTestKit.Framed(SocketTestKit.Frame(60, 1)), .. SocketTestKit.Framed(SocketTestKit.Frame(9000, 2)),
            .. SocketTestKit.Framed(SocketTestKit.Frame(14, 3))];
        foreach (int chunk in new[] { 1, 2, 3, 5, 64, 4096, stream.Length })
        {
            var reader = new StreamFrameReader(QemuStreamFraming.MaxFrameLength);
            var frames = new List<byte[]>();
            for (int offset = 0; offset < stream.Length; offset += chunk)
            {
                var piece = stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset));
                piece.CopyTo(reader.FreeSpace);
                reader.Commit(piece.Length);
                StreamFrameStatus status;
                while ((status = reader.TryTake(out var frame)) != StreamFrameStatus.NeedMore)
                {
                    Assert.Equal(StreamFrameStatus.Frame, status);
                    frames.Add(frame.ToArray());
                }
                reader.Compact();
            }
            Assert.Equal([60, 9000, 14], frames.Select(f => f.Length));
            Assert.Equal(SocketTestKit.Frame(9000, 2), frames[1]);
            Assert.Equal(0, reader.Pending);
        }
    }

    [Fact]
    public void A_length_over_the_limit_is_oversized_before_any_payload_arrives()
    {
        var reader = new StreamFrameReader(QemuStreamFraming.MaxFrameLength);
        byte[] header = [0x80, 0, 0, 0];
        header.CopyTo(reader.FreeSpace);
        reader.Commit(4);
        Assert.Equal(StreamFrameStatus.Oversized, reader.TryTake(out _));
        Assert.Equal(0x8000_0000u, reader.RejectedLength);

        var exact = new StreamFrameReader(100);
        byte[] justOver = [0, 0, 0, 101];
        justOver.CopyTo(exact.FreeSpace);
        exact.Commit(4);
        Assert.Equal(StreamFrameStatus.Oversized, exact.TryTake(out _));
    }

    [Fact]
    public void Runts_including_zero_length_are_consumed_and_reported_as_runts()
    {
        var reader = new StreamFrameReader(QemuStreamFraming.MaxFrameLength);
        byte[] stream = [0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, .. SocketTestKit.Framed(SocketTestKit.Frame(20, 9))];
        stream.CopyTo(reader.FreeSpace);
        reader.Commit(stream.Length);
        Assert.Equal(StreamFrameStatus.Runt, reader.TryTake(out _));
        Assert.Equal(StreamFrameStatus.Runt, reader.TryTake(out var three));
        Assert.Equal(3, three.Length);
        Assert.Equal(StreamFrameStatus.Frame, reader.TryTake(out var frame));
        Assert.Equal(9, SocketTestKit.Sequence(frame.ToArray()));
        Assert.Equal(StreamFrameStatus.NeedMore, reader.TryTake(out _));
    }

    [Fact]
    public void After_compaction_a_largest_frame_still_has_room_to_complete()
    {
        var reader = new StreamFrameReader(QemuStreamFraming.MaxFrameLength);
        // Leave a maximal frame one byte short, then make sure the rest fits and completes it.
        var framed = SocketTestKit.Framed(SocketTestKit.Frame(QemuStreamFraming.MaxFrameLength, 5));
        int fed = 0;
        while (fed < framed.Length - 1)
        {
            int n = Math.Min(reader.FreeSpace.Length, framed.Length - 1 - fed);
            Assert.True(n > 0);
            framed.AsSpan(fed, n).CopyTo(reader.FreeSpace);
            reader.Commit(n);
            fed += n;
            Assert.Equal(StreamFrameStatus.NeedMore, reader.TryTake(out _));
            reader.Compact();
        }
        Assert.True(reader.FreeSpace.Length >= 1);
        reader.FreeSpace[0] = framed[^1];
        reader.Commit(1);
        Assert.Equal(StreamFrameStatus.Frame, reader.TryTake(out var frame));
        Assert.Equal(QemuStreamFraming.MaxFrameLength, frame.Length);
    }
}
