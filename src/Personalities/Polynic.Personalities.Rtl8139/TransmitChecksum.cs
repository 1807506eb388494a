using System.Buffers.Binary;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// C+ transmit checksum offload (descriptor IPCS/TCPCS/UDPCS; datasheet 9.1): the device computes
/// the IPv4 header checksum and the TCP or UDP checksum from scratch, whatever the fields held.
/// </summary>
internal static class TransmitChecksum
{
    /// <summary>Inserts the requested checksums; false (frame unchanged) if it is not TCP/UDP over IPv4.</summary>
    public static bool TryInsert(Span<byte> frame, uint opts1)
    {
        if (FrameHeaders.TryParse(frame, out var h) != OffloadStatus.Ok || !h.IsIPv4) return false;
        var ip = frame.Slice(h.NetworkOffset, h.NetworkHeaderLength);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < h.NetworkHeaderLength || h.NetworkOffset + total > frame.Length) return false;
        if ((opts1 & TxIpChecksum) != 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        }
        bool tcp = (opts1 & TxTcpChecksum) != 0 && h.IsTcp;
        bool udp = (opts1 & TxUdpChecksum) != 0 && !h.IsTcp;
        if (!tcp && !udp) return true;
        var l4 = frame.Slice(h.TransportOffset, total - h.NetworkHeaderLength);
        int field = tcp ? 16 : 6;
        if (l4.Length < field + 2) return false;
        BinaryPrimitives.WriteUInt16BigEndian(l4[field..], 0);
        var c = new InternetChecksum(PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), h.Protocol, (ushort)l4.Length));
        c.Add(l4);
        BinaryPrimitives.WriteUInt16BigEndian(l4[field..], tcp ? c.Finish() : c.FinishNonZero());
        return true;
    }
}
