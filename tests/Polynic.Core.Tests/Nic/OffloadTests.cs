using System.Buffers.Binary;
using CsCheck;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Core.Tests.Nic;

public class InternetChecksumTests
{
    // A classic IPv4 header (20 bytes, UDP 192.168.0.1 -> 192.168.0.199) whose checksum is 0xB861.
    internal static readonly byte[] Ipv4Header =
        Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");

    [Fact]
    public void Known_ipv4_header_checksum()
    {
        Assert.Equal(0xB861, InternetChecksum.Compute(Ipv4Header));
        var h = (byte[])Ipv4Header.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0xB861);
        Assert.True(InternetChecksum.Verify(h));
    }

    [Fact]
    public void Rfc1071_worked_example()
    {
        // RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (after the end-around carry).
        var c = new InternetChecksum();
        c.Add(Convert.FromHexString("0001f203f4f5f6f7"));
        Assert.Equal(0xDDF2, c.FoldedSum);
        Assert.Equal(0x220D, c.Finish());
    }

    [Fact]
    public void Pieces_of_any_length_sum_like_the_whole() =>
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, 300], Gen.Int[0, 300]).Sample((data, a, b) =>
        {
            int x = Math.Min(a, data.Length), y = Math.Min(Math.Max(x, b), data.Length);
            var c = new InternetChecksum();
            c.Add(data.AsSpan(0, x));
            c.Add(data.AsSpan(x, y - x));
            c.Add(data.AsSpan(y));
            Assert.Equal(InternetChecksum.Compute(data), c.Finish());
        });

    [Fact]
    public void Incremental_update_matches_recomputation() =>
        Gen.Select(Gen.Byte.Array[2, 100], Gen.UShort, Gen.Int[0, 49]).Sample((data, word, at) =>
        {
            int even = data.Length & ~1;
            var d = data.AsSpan(0, even);
            int pos = Math.Min(at, even / 2 - 1) * 2;
            ushort before = InternetChecksum.Compute(d);
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(d[pos..]);
            BinaryPrimitives.WriteUInt16BigEndian(d[pos..], word);
            ushort updated = InternetChecksum.Update(before, old, word);
            ushort recomputed = InternetChecksum.Compute(d);
            // 0x0000 and 0xFFFF are the same number in ones' complement.
            Assert.Equal(recomputed % 0xFFFF, updated % 0xFFFF);
        });

    [Fact]
    public void E1000_insertion_sums_css_to_cse_and_stores_at_cso()
    {
        var frame = new byte[14 + Ipv4Header.Length + 8];
        frame[12] = 0x08;
        Ipv4Header.CopyTo(frame, 14);
        // IPCSS=14, IPCSO=24, IPCSE=33 as Linux e1000_tx_csum/e1000_tso program them.
        Assert.True(ChecksumOffload.TryInsert(frame, start: 14, offset: 24, end: 33));
        Assert.Equal(0xB861, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(24)));
        Assert.False(ChecksumOffload.TryInsert(frame, 14, frame.Length - 1, 0));
        Assert.False(ChecksumOffload.TryInsert(frame, frame.Length, 24, 0));
        Assert.False(ChecksumOffload.TryInsert(frame, 34, 24, 33));
        Assert.False(ChecksumOffload.TryInsert(frame, -1, 24, 0));
        Assert.False(ChecksumOffload.TryInsert([], 0, 0, 0));
    }

    [Fact]
    public void Virtio_partial_checksum_completes_a_tcp_segment()
    {
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 333, flags: 0x18);
        var h = Parse(frame);
        int tcpLength = frame.Length - h.TransportOffset;
        // The driver pre-loads the folded pseudo-header sum, not complemented (Linux CHECKSUM_PARTIAL).
        ushort seed = InternetChecksum.Fold(h.PseudoHeaderSum(frame, tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(h.TransportOffset + 16), seed);
        var offload = new FrameOffload(true, (ushort)h.TransportOffset, 16, GsoType.None, 0, 0);
        Assert.True(ChecksumOffload.TryComplete(frame, offload));
        Assert.True(InternetChecksum.Verify(frame.AsSpan(h.TransportOffset), h.PseudoHeaderSum(frame, tcpLength)));
        Assert.False(ChecksumOffload.TryComplete(frame, frame.Length - 1, 0));
        Assert.False(ChecksumOffload.TryComplete(frame, 10, int.MaxValue));
        Assert.True(ChecksumOffload.TryComplete(frame, default(FrameOffload)));
    }

    private static FrameHeaders Parse(byte[] frame)
    {
        Assert.Equal(OffloadStatus.Ok, FrameHeaders.TryParse(frame, out var h));
        return h;
    }
}

/// <summary>Builds well-formed test frames.</summary>
internal static class FrameBuilder
{
    public static byte[] Tcp(bool ipv6, int payload, byte flags, int tcpOptions = 0, bool vlan = false, uint seq = 0xFFFF_F000, ushort id = 0xFFFE) =>
        Build(ipv6, FrameHeaders.ProtocolTcp, payload, flags, tcpOptions, vlan, seq, id);

    public static byte[] Udp(bool ipv6, int payload) => Build(ipv6, FrameHeaders.ProtocolUdp, payload, 0, 0, false, 0, 7);

    private static byte[] Build(bool ipv6, byte protocol, int payload, byte flags, int tcpOptions, bool vlan, uint seq, ushort id)
    {
        int l2 = vlan ? 18 : 14;
        int l3 = ipv6 ? 40 : 20;
        int l4 = protocol == FrameHeaders.ProtocolTcp ? 20 + tcpOptions : 8;
        var f = new byte[l2 + l3 + l4 + payload];
        MacAddress.Parse("52:54:00:12:34:56").CopyTo(f);
        MacAddress.Parse("52:54:00:ab:cd:ef").CopyTo(f.AsSpan(6));
        if (vlan) { f[12] = 0x81; f[13] = 0x00; f[15] = 42; }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l2 - 2), ipv6 ? (ushort)0x86DD : (ushort)0x0800);
        var ip = f.AsSpan(l2);
        if (ipv6)
        {
            ip[0] = 0x60;
            ip[6] = protocol;
            ip[7] = 64;
            for (int i = 0; i < 16; i++) { ip[8 + i] = (byte)(0x20 + i); ip[24 + i] = (byte)(0x90 + i); }
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
            ip[6] = 0x40;                       // DF
            ip[8] = 64;
            ip[9] = protocol;
            new byte[] { 10, 0, 2, 15, 10, 0, 2, 2 }.CopyTo(ip[12..]);
        }
        var t = f.AsSpan(l2 + l3);
        BinaryPrimitives.WriteUInt16BigEndian(t, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], 5201);
        if (protocol == FrameHeaders.ProtocolTcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(t[4..], seq);
            t[12] = (byte)(l4 / 4 << 4);
            t[13] = flags;
            for (int i = 20; i < l4; i++) t[i] = 1;   // NOP options
        }
        for (int i = 0; i < payload; i++) f[l2 + l3 + l4 + i] = (byte)(i * 7 + 3);
        return f;
    }
}
