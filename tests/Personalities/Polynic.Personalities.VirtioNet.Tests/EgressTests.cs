using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Virtio;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.Tests.Shared;
using Polynic.Personalities.VirtioNet.Tests.Support;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;
using E = Polynic.Personalities.Tests.Shared.EgressExpectations;

namespace Polynic.Personalities.VirtioNet.Tests;

/// <summary>
/// virtio-net transmit chains into the NIC core's transmit egress: the hand-offs and counts of
/// <see cref="EgressExpectations"/>, which the e1000 and RTL8139 C+ tests assert too. virtio-net
/// has no loopback mode (virtio 1.2, 5.1), so the loopback case is theirs alone.
/// </summary>
public sealed class EgressTests
{
    private const PortCapabilities Gso = PortCapabilities.Checksum | PortCapabilities.Segmentation;
    private const ulong Features = VirtioFeatures.Version1 | Mac | Status | Csum | HostTso4 | HostTso6;

    private static VirtioNetRig Cable(OffloadRecordingPort port)
    {
        var r = new VirtioNetRig(port: port);
        r.Start(Features);
        return r;
    }

    /// <summary>A frame as Linux hands a CHECKSUM_PARTIAL or GSO skb to virtio: the pseudo-header sum (with the length) in the TCP field.</summary>
    private static byte[] Partial(int payload)
    {
        var frame = Frames.Tcp(VirtioNetRig.Peer, VirtioNetRig.Mac, new byte[payload]);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, frame.Length - 34)));
        return frame;
    }

    [Fact]
    public void A_plain_frame_counts_one_frame()
    {
        var port = new OffloadRecordingPort(Gso);
        using var r = Cable(port);
        var frame = Frames.Raw(VirtioNetRig.Peer, E.PlainLength);
        r.Send(VirtioNetRig.Header(), frame);
        var (sent, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, sent);
        Assert.Null(offload);
        Assert.Equal(E.OneFrame, E.Of(r.Nic.Counters));
        Assert.Equal((long)E.PlainLength, r.Nic.Counters.TxBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_checksum_offloaded_frame_is_left_to_a_port_that_completes_checksums_and_completed_otherwise(bool portCompletes)
    {
        var port = new OffloadRecordingPort(portCompletes ? PortCapabilities.Checksum : PortCapabilities.None);
        using var r = Cable(port);
        var frame = Partial(E.ChecksumPayload);
        r.Send(VirtioNetRig.Header(flags: 1, csumStart: 34, csumOffset: 16), frame);

        var (sent, offload) = Assert.Single(port.Sent);
        if (portCompletes)
        {
            Assert.Equal(E.Partial, offload);
            Assert.Equal(frame, sent);
        }
        else
        {
            Assert.Null(offload);
            Assert.True(Frames.ChecksumsValid(sent));
        }
        Assert.Equal(E.OneFrame, E.Of(r.Nic.Counters));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_tso_frame_counts_its_segments_whoever_cuts_them(bool portSegments)
    {
        var port = new OffloadRecordingPort(portSegments ? Gso : PortCapabilities.None);
        using var r = Cable(port);
        var frame = Partial(E.TsoPayload);
        // hdr_len as Linux sets it (skb_headlen: here the whole frame), only a hint (virtio 1.2, 5.1.6.2).
        r.Send(VirtioNetRig.Header(flags: 1, gso: 1, hdrLen: (ushort)frame.Length, gsoSize: E.Mss, csumStart: 34, csumOffset: 16), frame);
        if (portSegments)
        {
            var (whole, offload) = Assert.Single(port.Sent);
            Assert.Equal(E.Tso, offload);
            Assert.Equal(frame, whole);
        }
        else
        {
            Assert.Equal(E.TsoSegments, port.Sent.Count);
            Assert.All(port.Sent, s => Assert.True(Frames.ChecksumsValid(s.Frame)));
        }
        Assert.Equal(E.TsoCounts(portSegments), E.Of(r.Nic.Counters));
    }

    [Fact]
    public void A_header_that_does_not_describe_its_frame_is_refused_and_counted()
    {
        var port = new OffloadRecordingPort(Gso);
        using var r = Cable(port);
        var frame = Partial(E.ChecksumPayload);
        r.Send(VirtioNetRig.Header(flags: 1, csumStart: (ushort)frame.Length, csumOffset: 16), frame);
        r.Send(VirtioNetRig.Header(flags: 1, gso: 1, hdrLen: 54, gsoSize: 0, csumStart: 34, csumOffset: 16), frame, at: VirtioNetRig.Buffers + 0x1_0000);
        Assert.Empty(port.Sent);
        Assert.Equal((0L, 0L, 2L, 0L), E.Of(r.Nic.Counters));
    }
}
