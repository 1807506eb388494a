using System.Buffers.Binary;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// C+ receive checksum status (CPCR RxChkSum; datasheet 9.2.2): the protocol ID (1 TCP/IP, 2 UDP/IP,
/// 3 other IP) and the IP/UDP/TCP fail bits. 8139cp marks a frame CHECKSUM_UNNECESSARY only for
/// TCP or UDP without the fail bit, so anything not verified here is left to the stack.
/// </summary>
internal static class ReceiveChecksum
{
    public static uint Status(ReadOnlySpan<byte> frame)
    {
        int l3 = 14;
        if (frame.Length < l3 + 20) return 0;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type == 0x8100)
        {
            l3 += 4;
            if (frame.Length < l3 + 20) return 0;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
        }
        if (type != 0x0800) return 0;
        var ip = frame[l3..];
        int ihl = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[0] >> 4 != 4 || ihl < 20 || total < ihl || total > ip.Length) return RxProtocolIp << RxProtocolShift | RxIpFail;
        uint status = InternetChecksum.Verify(ip[..ihl]) ? 0 : RxIpFail;
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0;
        byte protocol = ip[9];
        if (fragment || protocol is not (FrameHeaders.ProtocolTcp or FrameHeaders.ProtocolUdp))
            return status | RxProtocolIp << RxProtocolShift;
        var l4 = ip[ihl..total];
        uint seed = PseudoHeader.IPv4(ip.Slice(12, 4), ip.Slice(16, 4), protocol, (ushort)l4.Length);
        if (protocol == FrameHeaders.ProtocolTcp)
        {
            if (l4.Length < 20 || !InternetChecksum.Verify(l4, seed)) status |= RxTcpFail;
            return status | RxProtocolTcp << RxProtocolShift;
        }
        // UDP checksum 0: none sent (RFC 768).
        if (l4.Length < 8 || (BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) != 0 && !InternetChecksum.Verify(l4, seed))) status |= RxUdpFail;
        return status | RxProtocolUdp << RxProtocolShift;
    }
}
