using System.Buffers.Binary;
using Polynic.Core.Nic;

namespace Polynic.EndToEnd.Tests.Sockets;

/// <summary>
/// A made-up IPv4 host on the port side of a socket netdev: it answers ARP requests for its
/// address (RFC 826) and ICMP echo requests (RFC 792) through <see cref="Port"/>, and keeps
/// every frame it receives so a test can see what the guest sent.
/// </summary>
internal sealed class EchoStation(byte[] mac, byte[] ip) : IPortReceiver
{
    private readonly object _gate = new();
    private readonly List<byte[]> _frames = [];
    private readonly List<bool> _links = [];

    public byte[] Mac { get; } = mac;
    public byte[] Ip { get; } = ip;
    public IPort? Port { get; set; }
    public int ArpRepliesSent { get; private set; }
    public int EchoRepliesSent { get; private set; }

    public byte[][] Received { get { lock (_gate) return [.. _frames]; } }
    public bool[] Links { get { lock (_gate) return [.. _links]; } }

    public void Receive(ReadOnlySpan<byte> frame)
    {
        var copy = frame.ToArray();
        lock (_gate) _frames.Add(copy);
        if (Port is not { } port) return;
        if (IsArpRequestForMe(copy) && port.Send(ArpReply(copy))) ArpRepliesSent++;
        else if (IsEchoRequestForMe(copy) && port.Send(EchoReply(copy))) EchoRepliesSent++;
    }

    public void LinkChanged(bool up)
    {
        lock (_gate) _links.Add(up);
    }

    public bool SawArpRequestFrom(byte[] guestMac) => Received.Any(f => IsArpRequestForMe(f) && f.AsSpan(6, 6).SequenceEqual(guestMac));

    public bool SawEchoRequestFrom(byte[] guestIp) => Received.Any(f => IsEchoRequestForMe(f) && f.AsSpan(26, 4).SequenceEqual(guestIp));

    private bool IsArpRequestForMe(byte[] f) =>
        f.Length >= 42 && EtherType(f) == 0x0806 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(20)) == 1 && f.AsSpan(38, 4).SequenceEqual(Ip);

    private bool IsEchoRequestForMe(byte[] f) =>
        f.Length >= 42 && EtherType(f) == 0x0800 && f[23] == 1 && f.AsSpan(30, 4).SequenceEqual(Ip) && f[14 + (f[14] & 0xF) * 4] == 8;

    private static ushort EtherType(byte[] f) => BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12));

    private byte[] ArpReply(byte[] request)
    {
        var reply = new byte[42];
        request.AsSpan(6, 6).CopyTo(reply);          // to the asker
        Mac.CopyTo(reply, 6);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(12), 0x0806);
        request.AsSpan(14, 6).CopyTo(reply.AsSpan(14)); // htype, ptype, hlen, plen as asked
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(20), 2);
        Mac.CopyTo(reply, 22);
        Ip.CopyTo(reply, 28);
        request.AsSpan(22, 10).CopyTo(reply.AsSpan(32)); // target = the asker's MAC and IP
        return reply;
    }

    private byte[] EchoReply(byte[] request)
    {
        var reply = (byte[])request.Clone();
        request.AsSpan(6, 6).CopyTo(reply);
        Mac.CopyTo(reply, 6);
        // Swapping source and destination leaves the IPv4 header checksum as it was (a sum is order-free).
        request.AsSpan(26, 4).CopyTo(reply.AsSpan(30));
        request.AsSpan(30, 4).CopyTo(reply.AsSpan(26));
        int icmp = 14 + (request[14] & 0xF) * 4;
        int icmpLength = BinaryPrimitives.ReadUInt16BigEndian(request.AsSpan(16)) - (icmp - 14);
        reply[icmp] = 0; // echo reply
        reply[icmp + 2] = reply[icmp + 3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(icmp + 2), Checksum(reply.AsSpan(icmp, icmpLength)));
        return reply;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2) sum += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
