using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>Builds test frames and checks checksums independently of the code under test.</summary>
public static class Frames
{
    public static readonly MacAddress Peer = MacAddress.FromUInt64(0x02_00_00_00_00_02);

    public static byte[] Ethernet(MacAddress destination, MacAddress source, ushort etherType, ReadOnlySpan<byte> payload)
    {
        var f = new byte[14 + payload.Length];
        Write(f, destination);
        Write(f.AsSpan(6), source);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), etherType);
        payload.CopyTo(f.AsSpan(14));
        return f;
    }

    /// <summary>A frame of <paramref name="length"/> bytes with a counting pattern after the header.</summary>
    public static byte[] Raw(MacAddress destination, int length, byte seed = 1, ushort etherType = 0x88B5)
    {
        var payload = new byte[length - 14];
        for (int i = 0; i < payload.Length; i++) payload[i] = (byte)(seed + i);
        return Ethernet(destination, Peer, etherType, payload);
    }

    public static byte[] Tagged(byte[] frame, ushort tci, ushort tpid = 0x8100)
    {
        var f = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), tpid);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), tci);
        frame.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    /// <summary>IPv4 + TCP (20-byte headers) with valid checksums unless told otherwise.</summary>
    public static byte[] Tcp(MacAddress destination, MacAddress source, ReadOnlySpan<byte> payload, uint sequence = 1000, byte flags = 0x18,
        bool validChecksums = true, ushort ipId = 0x1234)
    {
        var l4 = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), 5);
        l4[12] = 5 << 4;
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), 65535);
        payload.CopyTo(l4.AsSpan(20));
        return Ipv4(destination, source, 6, l4, validChecksums, ipId, checksumOffset: 16);
    }

    public static byte[] Udp(MacAddress destination, MacAddress source, ReadOnlySpan<byte> payload, bool validChecksums = true)
    {
        var l4 = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, 5353);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), 5353);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(4), (ushort)l4.Length);
        payload.CopyTo(l4.AsSpan(8));
        return Ipv4(destination, source, 17, l4, validChecksums, 7, checksumOffset: 6);
    }

    private static byte[] Ipv4(MacAddress destination, MacAddress source, byte protocol, byte[] l4, bool valid, ushort id, int checksumOffset)
    {
        var ip = new byte[20 + l4.Length];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), id);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = protocol;
        new byte[] { 10, 0, 0, 1 }.CopyTo(ip, 12);
        new byte[] { 10, 0, 0, 2 }.CopyTo(ip, 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum(ip.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(checksumOffset), 0);
        ushort c = Checksum(l4, PseudoSum(ip, protocol, l4.Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(checksumOffset), valid ? c : (ushort)(c ^ 0x5555));
        l4.CopyTo(ip, 20);
        return Ethernet(destination, source, 0x0800, ip);
    }

    public static uint PseudoSum(ReadOnlySpan<byte> ip, byte protocol, int l4Length)
    {
        uint sum = 0;
        for (int i = 12; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        return sum + protocol + (uint)l4Length;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Fold(Sum(data, initial));

    public static ulong Sum(ReadOnlySpan<byte> data, ulong sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        return sum;
    }

    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>Whether an Ethernet/IPv4 frame (at <paramref name="l3"/>) has a valid IP header checksum and a valid TCP/UDP checksum.</summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> frame, int l3 = 14)
    {
        var ip = frame[l3..];
        int ihl = (ip[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (Fold(Sum(ip[..ihl])) != 0xFFFF) return false;
        var l4 = ip[ihl..total];
        return Fold(Sum(l4, PseudoSum(ip, ip[9], l4.Length))) == 0xFFFF;
    }

    private static void Write(Span<byte> to, MacAddress mac)
    {
        for (int i = 0; i < 6; i++) to[i] = mac[i];
    }
}
