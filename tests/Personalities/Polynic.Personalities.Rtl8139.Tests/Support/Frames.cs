using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Personalities.Rtl8139.Tests.Support;

/// <summary>Test frames, built independently of the code under test.</summary>
public static class Frames
{
    public static byte[] Raw(MacAddress destination, int length, byte seed = 1)
    {
        var f = new byte[length];
        destination.CopyTo(f);
        Rtl8139Rig.Peer.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x88B5);
        for (int i = 14; i < length; i++) f[i] = (byte)(seed + i);
        return f;
    }

    public static byte[] Tagged(byte[] frame, ushort tci)
    {
        var f = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), tci);
        frame.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    /// <summary>IPv4/UDP (or TCP) with valid checksums unless <paramref name="valid"/> is false (then both are zero).</summary>
    public static byte[] Ip(MacAddress destination, int payload, bool tcp = false, bool valid = true)
    {
        int l4Header = tcp ? 20 : 8;
        var f = new byte[14 + 20 + l4Header + payload];
        destination.CopyTo(f);
        Rtl8139Rig.Peer.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4Header + payload));
        ip[8] = 64;
        ip[9] = (byte)(tcp ? 6 : 17);
        byte[] src = [10, 0, 0, 1], dst = [10, 0, 0, 2];
        src.CopyTo(ip[12..]);
        dst.CopyTo(ip[16..]);
        var l4 = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(l4, 1234);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 80);
        if (tcp) l4[12] = 5 << 4;
        else BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4.Length);
        for (int i = l4Header; i < l4.Length; i++) l4[i] = (byte)i;
        if (valid)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
            var c = new InternetChecksum(PseudoHeader.IPv4(src, dst, ip[9], (ushort)l4.Length));
            c.Add(l4);
            BinaryPrimitives.WriteUInt16BigEndian(l4[(tcp ? 16 : 6)..], c.Finish());
        }
        return f;
    }

    public static bool ChecksumsValid(ReadOnlySpan<byte> f)
    {
        var ip = f.Slice(14, 20);
        int l4Length = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) - 20;
        return InternetChecksum.Verify(ip) &&
            InternetChecksum.Verify(f.Slice(34, l4Length), PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), ip[9], (ushort)l4Length));
    }
}
