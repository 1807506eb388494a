using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Core.Tests.Nic;

public class GsoFrameTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_driver_tso_packet_gets_real_lengths_and_the_full_pseudo_header_seed(bool ipv6, bool vlan)
    {
        var frame = FrameBuilder.Tcp(ipv6, payload: 5000, flags: 0x18, vlan: vlan);
        Assert.Equal(OffloadStatus.Ok, FrameHeaders.TryParse(frame, out var h));
        // What Linux e1000_tso leaves: IPv4 total length and header checksum zero, seed without length.
        if (!ipv6)
        {
            frame[h.NetworkOffset + 2] = frame[h.NetworkOffset + 3] = 0;
            frame[h.NetworkOffset + 10] = frame[h.NetworkOffset + 11] = 0;
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(h.TransportOffset + 16), InternetChecksum.Fold(h.PseudoHeaderSum(frame, 0)));

        Assert.True(GsoFrame.TryPrepareTcp(frame, h.HeaderLength, 1448, out var offload));

        Assert.Equal(new FrameOffload(true, (ushort)h.TransportOffset, 16, ipv6 ? GsoType.TcpV6 : GsoType.TcpV4, (ushort)h.HeaderLength, 1448), offload);
        int tcpLength = frame.Length - h.TransportOffset;
        if (ipv6)
        {
            Assert.Equal(tcpLength, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(h.NetworkOffset + 4)));
        }
        else
        {
            Assert.Equal(frame.Length - h.NetworkOffset, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(h.NetworkOffset + 2)));
            Assert.True(InternetChecksum.Verify(frame.AsSpan(h.NetworkOffset, h.NetworkHeaderLength)));
        }
        ushort seed = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(h.TransportOffset + 16));
        Assert.Equal(InternetChecksum.Fold(h.PseudoHeaderSum(frame, tcpLength)), seed);
        // Completing the partial checksum as the port's peer would gives a valid TCP checksum.
        Assert.True(ChecksumOffload.TryComplete(frame, offload));
        Assert.True(InternetChecksum.Verify(frame.AsSpan(h.TransportOffset), h.PseudoHeaderSum(frame, tcpLength)));
    }

    [Fact]
    public void Refusals_leave_the_frame_unchanged()
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 3000, flags: 0x10);
        var copy = frame.ToArray();
        Assert.False(GsoFrame.TryPrepareTcp(frame, 60, 1448, out _));     // header length disagrees
        Assert.False(GsoFrame.TryPrepareTcp(frame, 54, 0, out _));        // no segment size
        Assert.False(GsoFrame.TryPrepareTcp(frame, 54, 1, out _));        // 3000 segments
        Assert.False(GsoFrame.TryPrepareTcp(frame.AsSpan(0, 54), 54, 1448, out _));   // no payload
        var udp = FrameBuilder.Udp(ipv6: false, payload: 3000);
        Assert.False(GsoFrame.TryPrepareTcp(udp, 42, 1448, out _));
        Assert.Equal(copy, frame);
    }
}
