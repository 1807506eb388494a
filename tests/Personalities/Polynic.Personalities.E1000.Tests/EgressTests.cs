using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.Tests.Shared;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.TransmitDescriptor;
using E = Polynic.Personalities.Tests.Shared.EgressExpectations;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// e1000 descriptors into the NIC core's transmit egress: the hand-offs and counts of
/// <see cref="EgressExpectations"/>, which the RTL8139 C+ and virtio-net tests assert too.
/// </summary>
public sealed class EgressTests : IDisposable
{
    private const PortCapabilities Gso = PortCapabilities.Checksum | PortCapabilities.Segmentation;
    private const ulong Packet = 0x60_0000;

    private readonly E1000Rig _rig = new(attachPort: false);

    public void Dispose() => _rig.Dispose();

    private RecordingPort Cable(PortCapabilities capabilities)
    {
        var port = new RecordingPort(capabilities);
        _rig.Nic.AttachPort(port);
        _rig.SetupTx(16);
        return port;
    }

    [Fact]
    public void A_plain_frame_counts_one_frame()
    {
        var port = Cable(Gso);
        var frame = Frames.Raw(Frames.Peer, E.PlainLength);
        _rig.TransmitLegacy(frame);
        var (sent, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, sent);
        Assert.Equal(default, offload);
        Assert.Equal(E.OneFrame, E.Of(_rig.Nic.Counters));
        Assert.Equal((long)E.PlainLength, _rig.Nic.Counters.TxBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_checksum_offloaded_frame_is_left_to_a_port_that_completes_checksums_and_completed_otherwise(bool portCompletes)
    {
        var port = Cable(portCompletes ? PortCapabilities.Checksum : PortCapabilities.None);
        var frame = Frames.Tcp(Frames.Peer, E1000Rig.Mac, new byte[E.ChecksumPayload]);
        // Linux e1000_tx_csum: the stack leaves the pseudo-header sum (with length) in the field.
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, frame.Length - 34)));
        Context(tucmd: ContextTcp, payloadLength: 0, hdrLen: 0, mss: 0);
        frame.CopyTo(_rig.Ram(Packet, frame.Length));
        _rig.QueueTx(Packet, (uint)frame.Length | CmdDext | DtypData | CmdEop | CmdRs, (uint)PoptsTxsm << 8);
        _rig.Doorbell();

        var (sent, offload) = Assert.Single(port.Sent);
        if (portCompletes)
        {
            Assert.Equal(E.Partial, offload);
            Assert.Equal(frame, sent);
        }
        else
        {
            Assert.Equal(default, offload);
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
        var frame = QueueTso(Frames.Peer);
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
        Assert.Equal(1u, _rig.Read(Statistics.Tsctc));
        Assert.Equal((uint)E.TsoSegments, _rig.Read(Statistics.Gptc));
    }

    [Fact]
    public void In_loopback_a_tso_frame_comes_back_as_segments_and_nothing_reaches_a_port_that_takes_gso()
    {
        var port = Cable(Gso);
        _rig.SetupRx(16, RctlEn | RctlBam | RctlLbmMac);
        QueueTso(E1000Rig.Mac);

        Assert.Empty(port.Sent);
        for (int i = 0; i < E.TsoSegments; i++)
        {
            Assert.True(_rig.TryReceive(out var d));
            Assert.True(Frames.ChecksumsValid(_rig.Ram(d.Address, d.Length)));
        }
        Assert.Equal((long)E.TsoSegments, _rig.Nic.Counters.RxFrames);
        Assert.Equal(E.LoopedBackTso, E.Of(_rig.Nic.Counters));
    }

    /// <summary>A TSO packet as Linux e1000_tso prepares it: IP length and checksum zeroed, pseudo-header seed without the length.</summary>
    private byte[] QueueTso(MacAddress destination)
    {
        var frame = Frames.Tcp(destination, E1000Rig.Mac, new byte[E.TsoPayload], flags: 0x18);
        frame[16] = frame[17] = 0;
        frame[24] = frame[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, 0)));
        Context(tucmd: ContextTcp | ContextIp | CmdTse, payloadLength: E.TsoPayload, hdrLen: 54, mss: E.Mss);
        frame.CopyTo(_rig.Ram(Packet, frame.Length));
        _rig.QueueTx(Packet, (uint)frame.Length | CmdDext | DtypData | CmdTse | CmdEop | CmdRs, (uint)(PoptsTxsm | PoptsIxsm) << 8);
        _rig.Doorbell();
        return frame;
    }

    /// <summary>A context descriptor for TCP over IPv4 without options: IPCSS 14, IPCSO 24, IPCSE 33, TUCSS 34, TUCSO 50, TUCSE 0.</summary>
    private void Context(uint tucmd, int payloadLength, byte hdrLen, ushort mss)
    {
        const ulong low = 14 | 24UL << 8 | 33UL << 16 | 34UL << 32 | 50UL << 40;
        _rig.QueueTx(low, (uint)payloadLength | CmdDext | tucmd, (uint)hdrLen << 8 | (uint)mss << 16);
    }
}
