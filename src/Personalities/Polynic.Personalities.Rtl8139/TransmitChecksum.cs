using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// C+ transmit checksum offload (descriptor IPCS/TCPCS/UDPCS; datasheet 9.1): the device computes
/// the IPv4 header checksum and the TCP or UDP checksum from scratch, whatever the fields held.
/// </summary>
internal static class TransmitChecksum
{
    /// <summary>
    /// Inserts the IPv4 header checksum and turns a TCP/UDP checksum into a partial checksum seeded
    /// with the pseudo-header sum (<paramref name="offload"/>), which the port or the NIC core completes.
    /// False (frame unchanged) if it is not TCP/UDP over IPv4.
    /// </summary>
    public static bool TryPrepare(Span<byte> frame, uint opts1, out FrameOffload offload)
    {
        offload = default;
        if (FrameHeaders.TryParse(frame, out var h) != OffloadStatus.Ok || !h.IsIPv4) return false;
        var ip = frame.Slice(h.NetworkOffset, h.NetworkHeaderLength);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < h.NetworkHeaderLength || h.NetworkOffset + total > frame.Length) return false;
        bool tcp = (opts1 & TxTcpChecksum) != 0 && h.IsTcp;
        bool udp = (opts1 & TxUdpChecksum) != 0 && !h.IsTcp;
        var l4 = frame.Slice(h.TransportOffset, total - h.NetworkHeaderLength);
        int field = tcp ? 16 : 6;
        if ((tcp || udp) && l4.Length < field + 2) return false;
        if ((opts1 & TxIpChecksum) != 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        }
        if (!tcp && !udp) return true;
        var c = new InternetChecksum(PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), h.Protocol, (ushort)l4.Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4[field..], 0);
        if (h.NetworkOffset + total == frame.Length)
        {
            // A partial checksum runs to the end of the frame: only when nothing follows the datagram.
            BinaryPrimitives.WriteUInt16BigEndian(l4[field..], c.FoldedSum);
            offload = new FrameOffload(true, (ushort)h.TransportOffset, (ushort)field, GsoType.None, 0, 0);
            return true;
        }
        c.Add(l4);
        BinaryPrimitives.WriteUInt16BigEndian(l4[field..], tcp ? c.Finish() : c.FinishNonZero());
        return true;
    }
}
