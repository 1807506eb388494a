using System.Buffers.Binary;
using Polynic.Core.Nic.Offload;

namespace Polynic.Personalities.E1000;

/// <summary>
/// Receive checksum offload (8254x SDM 3.2.9, RXCSUM 13.4.32): for TCP/UDP over IPv4 with
/// RXCSUM.TUOFL (and the IP header with IPOFL) the device checks the checksums and reports
/// TCPCS/IPCS, with TCPE/IPE on a mismatch; for anything else it sets IXSM ("ignore checksum
/// indication"), which Linux e1000_rx_checksum honours first. The arithmetic is the core's.
/// </summary>
internal static class ReceiveChecksum
{
#pragma warning disable CS1591
    public const byte StatusIxsm = 0x04;
    public const byte StatusTcpcs = 0x20;
    public const byte StatusIpcs = 0x40;
    public const byte ErrorTcpe = 0x20;
    public const byte ErrorIpe = 0x40;
#pragma warning restore CS1591

    /// <summary>Status and error bits for <paramref name="frame"/> (as delivered: tag stripped or not, no padding or FCS).</summary>
    public static (byte Status, byte Errors) Check(ReadOnlySpan<byte> frame, uint rxcsum)
    {
        bool ip = (rxcsum & E1000Bits.RxcsumIpofl) != 0, transport = (rxcsum & E1000Bits.RxcsumTuofl) != 0;
        if (!ip && !transport) return (StatusIxsm, 0);
        if (FrameHeaders.TryParse(frame, out var h) != OffloadStatus.Ok || !h.IsIPv4) return (StatusIxsm, 0);

        var header = frame.Slice(h.NetworkOffset, h.NetworkHeaderLength);
        int total = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        // The IP total length bounds the datagram: Ethernet padding is not part of it.
        if (total < h.NetworkHeaderLength + h.TransportHeaderLength || h.NetworkOffset + total > frame.Length) return (StatusIxsm, 0);

        byte status = 0, errors = 0;
        if (ip)
        {
            status |= StatusIpcs;
            if (!InternetChecksum.Verify(header)) errors |= ErrorIpe;
        }
        if (transport)
        {
            var segment = frame.Slice(h.TransportOffset, total - h.NetworkHeaderLength);
            // A UDP checksum of 0 means the sender did not compute one (RFC 768): nothing to check.
            if (!h.IsTcp && BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0) return (status, errors);
            status |= StatusTcpcs;
            if (!InternetChecksum.Verify(segment, h.PseudoHeaderSum(frame, segment.Length))) errors |= ErrorTcpe;
        }
        return (status, errors);
    }
}
