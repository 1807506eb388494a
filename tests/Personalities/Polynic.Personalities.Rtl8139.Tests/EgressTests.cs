using Polynic.Core.Nic;
using Polynic.Personalities.Rtl8139.Tests.Support;
using Polynic.Personalities.Tests.Shared;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;
using static Polynic.Personalities.Rtl8139.Rtl8139Registers;
using E = Polynic.Personalities.Tests.Shared.EgressExpectations;

namespace Polynic.Personalities.Rtl8139.Tests;

/// <summary>
/// RTL8139C+ descriptors into the NIC core's transmit egress: the hand-offs and counts of
/// <see cref="EgressExpectations"/>, which the e1000 and virtio-net tests assert too.
/// </summary>
public sealed class EgressTests : IDisposable
{
    private const PortCapabilities Gso = PortCapabilities.Checksum | PortCapabilities.Segmentation;
    private const uint IpAndTcpChecksum = 1u << 18 | 1u << 16;
    private const uint LargeSend = 1u << 27 | (uint)E.Mss << 16;

    private readonly Rtl8139Rig _rig = new(0x20, attachPort: false);

    public void Dispose() => _rig.Dispose();

    private RecordingPort Cable(PortCapabilities capabilities)
    {
        var port = new RecordingPort(capabilities);
        _rig.Nic.AttachPort(port);
        _rig.StartCPlus();
        return port;
    }

    [Fact]
    public void A_plain_frame_counts_one_frame()
    {
        var port = Cable(Gso);
        var frame = Frames.Raw(Rtl8139Rig.Peer, E.PlainLength);
        _rig.SendCPlus(0, 0, frame);
        var (sent, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, sent);
        Assert.Null(offload);
        Assert.Equal(E.OneFrame, E.Of(_rig.Nic.Counters));
        Assert.Equal((long)E.PlainLength, _rig.Nic.Counters.TxBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_checksum_offloaded_frame_is_left_to_a_port_that_completes_checksums_and_completed_otherwise(bool portCompletes)
    {
        var port = Cable(portCompletes ? PortCapabilities.Checksum : PortCapabilities.None);
        // The part computes both checksums from scratch (datasheet 9.1): the driver leaves the fields as they are.
        _rig.SendCPlus(IpAndTcpChecksum, 0, Frames.Ip(Rtl8139Rig.Peer, E.ChecksumPayload, tcp: true, valid: false));

        var (sent, offload) = Assert.Single(port.Sent);
        if (portCompletes)
        {
            Assert.Equal(E.Partial, offload);
            // The IP header checksum is the part's to insert; the TCP field holds the pseudo-header seed.
            Assert.False(Frames.ChecksumsValid(sent));
            var completed = (byte[])sent.Clone();
            Assert.True(Polynic.Core.Nic.Offload.ChecksumOffload.TryComplete(completed, offload!.Value));
            Assert.True(Frames.ChecksumsValid(completed));
        }
        else
        {
            Assert.Null(offload);
            Assert.True(Frames.ChecksumsValid(sent));
        }
        Assert.Equal(E.OneFrame, E.Of(_rig.Nic.Counters));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_tso_frame_counts_its_segments_whoever_cuts_them(bool portSegments)
    {
        var port = Cable(portSegments ? Gso : PortCapabilities.None);
        var frame = Frames.Ip(Rtl8139Rig.Peer, E.TsoPayload, tcp: true, valid: false);
        _rig.SendCPlus(LargeSend, 0, frame);
        if (portSegments)
        {
            var (whole, offload) = Assert.Single(port.Sent);
            Assert.Equal(E.Tso, offload);
            Assert.Equal(frame.Length, whole.Length);
        }
        else
        {
            Assert.Equal(E.TsoSegments, port.Sent.Count);
            Assert.All(port.Sent, s => Assert.True(Frames.ChecksumsValid(s.Frame)));
        }
        Assert.Equal(E.TsoCounts(portSegments), E.Of(_rig.Nic.Counters));
        // The tally the driver dumps: one packet sent, no TxError (the MSS field hides the descriptor's status bit).
        Assert.Equal((1UL, 0UL), (_rig.Nic.Tally.TxOk, _rig.Nic.Tally.TxErrors));
    }

    [Fact]
    public void In_loopback_a_tso_frame_comes_back_as_segments_and_nothing_reaches_a_port_that_takes_gso()
    {
        var port = Cable(Gso);
        _rig.W32(TxConfig, _rig.R32(TxConfig) | TcrLoopbackMask);
        _rig.SendCPlus(LargeSend, 0, Frames.Ip(Rtl8139Rig.Mac, E.TsoPayload, tcp: true, valid: false));

        Assert.Empty(port.Sent);
        for (int i = 0; i < E.TsoSegments; i++)
        {
            var received = _rig.ReceiveCPlus();
            Assert.NotNull(received);
            Assert.True(Frames.ChecksumsValid(received.Value.Data));
        }
        Assert.Equal((long)E.TsoSegments, _rig.Nic.Counters.RxFrames);
        Assert.Equal(E.LoopedBackTso, E.Of(_rig.Nic.Counters));
    }

    private sealed class RecordingPort(PortCapabilities capabilities) : IPort
    {
        public List<(byte[] Frame, FrameOffload? Offload)> Sent { get; } = [];
        public string Name => "recording";
        public bool LinkUp => true;
        public PortCapabilities Capabilities => capabilities;
        public void Start(IPortReceiver receiver) { }
        public bool Send(ReadOnlySpan<byte> frame) { Sent.Add((frame.ToArray(), null)); return true; }
        public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload) { Sent.Add((frame.ToArray(), offload)); return true; }
        public void Dispose() { }
    }
}
