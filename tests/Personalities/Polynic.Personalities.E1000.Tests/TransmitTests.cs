using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;
using static Polynic.Personalities.E1000.TransmitDescriptor;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>Transmit descriptors as Linux e1000 and iPXE write them (expectations doc 3.2).</summary>
public class TransmitTests : IDisposable
{
    private E1000Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void Legacy_descriptor_puts_the_frame_on_the_wire_and_gets_dd()
    {
        _rig.SetupTx(16);
        var frame = Frames.Raw(Frames.Peer, 300);
        uint index = _rig.TransmitLegacy(frame);
        Assert.Equal(frame, Assert.Single(_rig.Wire.Frames));
        Assert.True(_rig.TxDone(index));
        Assert.Equal(1u, _rig.Read(Tdh));
        Assert.Equal(IcrTxdw | IcrTxqe, _rig.Read(Icr) & (IcrTxdw | IcrTxqe));
    }

    [Fact]
    public void Without_link_descriptors_still_complete_and_the_frame_counts_as_dropped()
    {
        _rig.SetupTx(16);
        _rig.Pair.Disconnect();
        uint index = _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100));
        Assert.True(_rig.TxDone(index));
        Assert.Empty(_rig.Wire.Frames);
        Assert.Equal(1, _rig.Nic.Counters.TxDropped);
    }

    [Fact]
    public void Psp_pads_short_frames_to_60_bytes()
    {
        _rig.SetupTx(16);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 42));
        var sent = Assert.Single(_rig.Wire.Frames);
        Assert.Equal(60, sent.Length);
        Assert.All(sent[42..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Nothing_is_sent_until_tctl_en_and_then_the_queue_drains()
    {
        _rig.SetupTx(16, tctl: TctlPsp);
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100, seed: 1));
        _rig.TransmitLegacy(Frames.Raw(Frames.Peer, 100, seed: 2));
        Assert.Empty(_rig.Wire.Frames);
        _rig.Write(Tctl, TctlPsp | TctlEn);
        Assert.Equal(2, _rig.Wire.Frames.Count);
        Assert.Equal(2u, _rig.Read(Tdh));
    }

    [Fact]
    public void A_packet_gathered_from_several_descriptors_arrives_whole()
    {
        _rig.SetupTx(16);
        var frame = Frames.Raw(Frames.Peer, 1514, seed: 3);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        _rig.QueueTx(at, 14, 0);
        _rig.QueueTx(at + 14, 1000, 0);
        _rig.QueueTx(at + 1014, (uint)(frame.Length - 1014 - 4), 0);
        uint last = _rig.QueueTx(at + (ulong)frame.Length - 4, 4 | CmdEop | CmdIfcs | CmdRs, 0);
        _rig.Doorbell();
        Assert.Equal(frame, Assert.Single(_rig.Wire.Frames));
        Assert.True(_rig.TxDone(last));
        Assert.False(_rig.TxDone(last - 1));   // no RS, no write-back
    }

    [Fact]
    public void A_packet_may_span_two_tail_writes()
    {
        _rig.SetupTx(16);
        var frame = Frames.Raw(Frames.Peer, 200, seed: 4);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        _rig.QueueTx(at, 100, 0);
        _rig.Doorbell();
        Assert.Empty(_rig.Wire.Frames);
        _rig.QueueTx(at + 100, 100 | CmdEop | CmdRs, 0);
        _rig.Doorbell();
        Assert.Equal(frame, Assert.Single(_rig.Wire.Frames));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Context_checksum_offload_fills_in_tcp_and_udp_checksums(bool udp)
    {
        _rig.SetupTx(16);
        var payload = Enumerable.Range(0, 777).Select(i => (byte)(i * 7)).ToArray();
        var frame = udp ? Frames.Udp(Frames.Peer, E1000Rig.Mac, payload) : Frames.Tcp(Frames.Peer, E1000Rig.Mac, payload);
        int csumOffset = udp ? 6 : 16;
        // Linux e1000_tx_csum: the stack leaves the pseudo-header sum (with length) in the field.
        var ip = frame.AsSpan(14, 20);
        ushort seed = Frames.Fold(Frames.PseudoSum(ip, ip[9], frame.Length - 34));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + csumOffset), seed);

        ContextDescriptor(ipcss: 0, ipcso: 0, ipcse: 0, tucss: 34, tucso: (byte)(34 + csumOffset), tucse: 0,
            tucmd: udp ? 0 : ContextTcp, payloadLength: 0, hdrLen: 0, mss: 0);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        _rig.QueueTx(at, (uint)frame.Length | CmdDext | DtypData | CmdEop | CmdIfcs | CmdRs, (uint)PoptsTxsm << 8);
        _rig.Doorbell();
        var sent = Assert.Single(_rig.Wire.Frames);
        Assert.True(Frames.ChecksumsValid(sent));
        int payloadAt = udp ? 42 : 54;
        Assert.Equal(frame.AsSpan(payloadAt).ToArray(), sent.AsSpan(payloadAt).ToArray());
    }

    [Fact]
    public void Transport_checksum_is_left_to_a_port_that_completes_checksums()
    {
        _rig.Dispose();
        _rig = new E1000Rig(attachPort: false);
        var port = new RecordingPort(PortCapabilities.Checksum);
        _rig.Nic.AttachPort(port);
        _rig.SetupTx(16);
        var frame = Frames.Tcp(Frames.Peer, E1000Rig.Mac, new byte[500]);
        var ip = frame.AsSpan(14, 20);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(ip, 6, frame.Length - 34)));
        ContextDescriptor(ipcss: 0, ipcso: 0, ipcse: 0, tucss: 34, tucso: 50, tucse: 0, tucmd: ContextTcp, payloadLength: 0, hdrLen: 0, mss: 0);
        frame.CopyTo(_rig.Ram(0x60_0000, frame.Length));
        _rig.QueueTx(0x60_0000, (uint)frame.Length | CmdDext | DtypData | CmdEop | CmdRs, (uint)PoptsTxsm << 8);
        _rig.Doorbell();
        var (sent, offload) = Assert.Single(port.Sent);
        Assert.Equal(frame, sent);
        Assert.Equal(new FrameOffload(true, 34, 16, GsoType.None, 0, 0), offload);
        Assert.Equal(1u, _rig.Read(Statistics.Gptc));
    }

    [Fact]
    public void Ip_checksum_offload_fills_in_the_header_checksum()
    {
        _rig.SetupTx(16);
        var frame = Frames.Tcp(Frames.Peer, E1000Rig.Mac, new byte[100]);
        frame[24] = frame[25] = 0;
        ContextDescriptor(ipcss: 14, ipcso: 24, ipcse: 33, tucss: 34, tucso: 50, tucse: 0, tucmd: ContextTcp | ContextIp, payloadLength: 0, hdrLen: 0, mss: 0);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        _rig.QueueTx(at, (uint)frame.Length | CmdDext | DtypData | CmdEop | CmdRs, (uint)PoptsIxsm << 8);
        _rig.Doorbell();
        Assert.True(Frames.ChecksumsValid(Assert.Single(_rig.Wire.Frames)));
    }

    [Fact]
    public void Legacy_insert_checksum_uses_css_and_cso()
    {
        _rig.SetupTx(16);
        var frame = Frames.Udp(Frames.Peer, E1000Rig.Mac, new byte[64]);
        var ip = frame.AsSpan(14, 20);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), Frames.Fold(Frames.PseudoSum(ip, 17, frame.Length - 34)));
        _rig.TransmitLegacy(frame, extraCmd: CmdIc, cso: 40, css: 34);
        Assert.True(Frames.ChecksumsValid(Assert.Single(_rig.Wire.Frames)));
    }

    [Fact]
    public void Vlan_insertion_needs_vle_and_ctrl_vme()
    {
        _rig.SetupTx(16);
        var frame = Frames.Raw(Frames.Peer, 100);
        _rig.TransmitLegacy(frame, extraCmd: CmdVle, special: 0x2005);
        Assert.Equal(frame, _rig.Wire.Frames[^1]);

        _rig.Write(Ctrl, _rig.Read(Ctrl) | CtrlVme);
        _rig.TransmitLegacy(frame, extraCmd: CmdVle, special: 0x2005);
        Assert.Equal(Frames.Tagged(frame, 0x2005), _rig.Wire.Frames[^1]);
    }

    [Fact]
    public void Tso_is_segmented_in_software_when_the_port_cannot()
    {
        var sent = SendTso(payloadLength: 4000, mss: 1448, vlan: false);
        AssertSegments(sent, 4000, 1448, l3: 14);
        Assert.Equal(1u, _rig.Read(Statistics.Tsctc));
        Assert.Equal(3u, _rig.Read(Statistics.Gptc));
    }

    [Fact]
    public void Tso_with_vlan_insertion_tags_every_segment()
    {
        _rig.Write(Ctrl, _rig.Read(Ctrl) | CtrlVme);
        var sent = SendTso(payloadLength: 3000, mss: 1000, vlan: true);
        Assert.All(sent, s => Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(12))));
        AssertSegments(sent, 3000, 1000, l3: 18);
    }

    [Fact]
    public void Tso_goes_to_a_segmenting_port_whole_and_the_port_pair_cuts_it_correctly()
    {
        _rig.Dispose();
        _rig = new E1000Rig(PortCapabilities.Segmentation | PortCapabilities.Checksum);
        var sent = SendTso(payloadLength: 5000, mss: 1448, vlan: false);
        AssertSegments(sent, 5000, 1448, l3: 14);
        Assert.Equal(1, _rig.Pair.A.Counters.FramesSent);
        Assert.Equal(4u, _rig.Read(Statistics.Gptc));
    }

    [Fact]
    public void Tso_handed_to_the_port_carries_real_lengths_and_the_full_pseudo_header_seed()
    {
        _rig.Dispose();
        _rig = new E1000Rig(attachPort: false);
        var port = new RecordingPort(PortCapabilities.Segmentation | PortCapabilities.Checksum);
        _rig.Nic.AttachPort(port);
        SendTso(payloadLength: 5000, mss: 1448, vlan: false, wire: false);
        var (frame, offload) = Assert.Single(port.Sent);
        Assert.Equal(new FrameOffload(true, 34, 16, GsoType.TcpV4, 54, 1448), offload);
        Assert.Equal(frame.Length - 14, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(16)));
        Assert.Equal(0xFFFF, Frames.Fold(Frames.Sum(frame.AsSpan(14, 20))));
        ushort seed = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(50));
        Assert.Equal(Frames.Fold(Frames.PseudoSum(frame.AsSpan(14, 20), 6, frame.Length - 34)), seed);
    }

    private List<byte[]> SendTso(int payloadLength, ushort mss, bool vlan, bool wire = true)
    {
        _rig.SetupTx(64);
        var payload = Enumerable.Range(0, payloadLength).Select(i => (byte)(i * 13 + 1)).ToArray();
        var frame = Frames.Tcp(Frames.Peer, E1000Rig.Mac, payload, sequence: 0x10000, flags: 0x19 /* FIN|PSH|ACK */);
        // Linux e1000_tso: tot_len and IP checksum zeroed, TCP checksum = pseudo-header sum without length.
        frame[16] = frame[17] = 0;
        frame[24] = frame[25] = 0;
        var ip = frame.AsSpan(14, 20);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(50), Frames.Fold(Frames.PseudoSum(ip, 6, 0)));

        ContextDescriptor(ipcss: 14, ipcso: 24, ipcse: 33, tucss: 34, tucso: 50, tucse: 0,
            tucmd: ContextTcp | ContextIp | CmdTse, payloadLength: payloadLength, hdrLen: 54, mss: mss);
        ulong at = 0x60_0000;
        frame.CopyTo(_rig.Ram(at, frame.Length));
        uint data = CmdDext | DtypData | CmdTse | (vlan ? CmdVle : 0);
        uint upper = (uint)(PoptsTxsm | PoptsIxsm) << 8 | (vlan ? 0x0123u << 16 : 0);
        // Headers, then payload in 4096-byte pieces, the last 4 bytes on their own (e1000_tx_map).
        _rig.QueueTx(at, 54 | data, upper);
        int offset = 54;
        while (frame.Length - offset > 4)
        {
            int piece = Math.Min(4096, frame.Length - offset - 4);
            _rig.QueueTx(at + (ulong)offset, (uint)piece | data, upper);
            offset += piece;
        }
        uint last = _rig.QueueTx(at + (ulong)offset, 4 | data | CmdEop | CmdIfcs | CmdRs | CmdIde, upper);
        _rig.Doorbell();
        Assert.True(_rig.TxDone(last));
        return wire ? _rig.Wire.Frames.ToList() : [];
    }

    private static void AssertSegments(List<byte[]> sent, int payloadLength, int mss, int l3)
    {
        int expected = (payloadLength + mss - 1) / mss;
        Assert.Equal(expected, sent.Count);
        var all = new List<byte>();
        for (int i = 0; i < sent.Count; i++)
        {
            var s = sent[i];
            int l4 = l3 + 20;
            Assert.True(Frames.ChecksumsValid(s, l3), $"segment {i} checksums");
            Assert.Equal(s.Length - l3, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(l3 + 2)));
            Assert.Equal(0x1234 + i, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(l3 + 4)));
            Assert.Equal(0x10000u + (uint)(i * mss), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(l4 + 4)));
            byte flags = s[l4 + 13];
            bool lastSegment = i == sent.Count - 1;
            Assert.Equal(lastSegment ? 0x19 : 0x10, flags);
            all.AddRange(s.AsSpan(l4 + 20).ToArray());
        }
        var expectedPayload = Enumerable.Range(0, payloadLength).Select(i => (byte)(i * 13 + 1)).ToArray();
        Assert.Equal(expectedPayload, all.ToArray());
    }

    private void ContextDescriptor(byte ipcss, byte ipcso, ushort ipcse, byte tucss, byte tucso, ushort tucse, uint tucmd, int payloadLength, byte hdrLen, ushort mss)
    {
        ulong low = ipcss | (ulong)ipcso << 8 | (ulong)ipcse << 16 | (ulong)tucss << 32 | (ulong)tucso << 40 | (ulong)tucse << 48;
        _rig.QueueTx(low, (uint)payloadLength | CmdDext | tucmd, (uint)hdrLen << 8 | (uint)mss << 16);
    }
}
