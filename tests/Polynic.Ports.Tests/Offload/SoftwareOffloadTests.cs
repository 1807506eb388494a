using Polynic.Core.Nic;
using Polynic.Ports.Offload;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Offload;

public sealed class SoftwareOffloadTests
{
    private static readonly byte[] Mac = [0x02, 0, 0, 0, 0, 1];
    private static readonly byte[] Ip = [192, 0, 2, 1];

    private static byte[] Tcp(int payload, byte flags = Frames.TcpAck) =>
        Frames.TcpV4(Mac, Mac, Ip, Ip, 1, 2, 100, 0, flags, new byte[payload], Frames.TcpChecksum.PseudoHeaderOnly);

    [Fact]
    public void A_checksum_field_outside_the_frame_is_refused()
    {
        var frame = new byte[40];
        Assert.False(SoftwareOffload.CompleteChecksum(frame, 34, 16));
    }

    [Fact]
    public void A_payload_no_larger_than_one_segment_becomes_one_frame_with_a_valid_checksum()
    {
        var frames = new List<byte[]>();
        var offload = new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1448);
        byte[] frame = Tcp(1000);

        Assert.True(SoftwareOffload.Segment(frame, offload, new byte[SoftwareOffload.ScratchLength(frame, offload)],
            s => { frames.Add(s.ToArray()); return true; }));

        Assert.True(Frames.TcpV4ChecksumsValid(Assert.Single(frames)));
    }

    [Fact]
    public void Cwr_stays_only_on_the_first_segment()
    {
        var frames = new List<byte[]>();
        const byte cwr = 0x80;
        byte[] frame = Tcp(300, Frames.TcpAck | cwr);

        Assert.True(SoftwareOffload.Segment(frame, new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 100), new byte[200],
            s => { frames.Add(s.ToArray()); return true; }));

        Assert.Equal([Frames.TcpAck | cwr, Frames.TcpAck, Frames.TcpAck], frames.Select(f => f[47]));
    }

    [Theory]
    [InlineData(GsoType.TcpV6, 1448)] // the frame is IPv4
    [InlineData(GsoType.Udp, 1448)]   // UFO is not done in software
    [InlineData(GsoType.TcpV4, 0)]    // no segment size
    public void Frames_that_cannot_be_segmented_are_refused(GsoType type, ushort segmentSize)
    {
        Assert.False(SoftwareOffload.Segment(Tcp(3000), new FrameOffload(true, 34, 16, type, 54, segmentSize), new byte[4000],
            _ => true));
    }

    [Fact]
    public void A_refusing_sink_stops_segmentation()
    {
        int calls = 0;
        Assert.False(SoftwareOffload.Segment(Tcp(3000), new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1000), new byte[2000],
            _ => ++calls < 2));
        Assert.Equal(2, calls);
    }
}
