using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// What the 82540 does to a gathered packet before it leaves (8254x SDM 3.3.5-3.3.7, 3.5 TCP
/// segmentation), said as a <see cref="FrameOffload"/> for the NIC core's egress: VLAN tag insertion
/// (VLE with CTRL.VME) happens here; a TCP/UDP checksum "from TUCSS to the end" is a partial checksum
/// and TSE a GSO frame, which the core hands to the port or completes; the checksums no
/// <see cref="FrameOffload"/> can say (IPCSS..IPCSE, a TUCSE bound, the legacy CSS/CSO) are inserted here.
/// </summary>
internal sealed class TransmitOffload(E1000Device device)
{
    private const int TagLength = 4;
    private const int MacAddressesLength = 12;

    /// <summary>
    /// Finishes and sends the packet at <paramref name="buffer"/>[<paramref name="offset"/>..], which
    /// has at least <see cref="TagLength"/> bytes of headroom for a VLAN tag.
    /// </summary>
    public void Send(byte[] buffer, int offset, int length, in TransmitRequest request, in TransmitContext context)
    {
        if (request.Segment)
        {
            SendSegmented(buffer, offset, length, request, context);
            return;
        }
        var packet = buffer.AsSpan(offset, length);
        var offload = default(FrameOffload);
        if (request.Extended)
        {
            bool transport = (request.Options & TransmitDescriptor.PoptsTxsm) != 0, ip = (request.Options & TransmitDescriptor.PoptsIxsm) != 0;
            // Linux e1000_tx_csum leaves the pseudo-header seed in the field that a virtio partial checksum expects.
            if (transport && !ip && context.TransportEnd == 0 && context.TransportOffset >= context.TransportStart)
                offload = new FrameOffload(true, context.TransportStart, (ushort)(context.TransportOffset - context.TransportStart), GsoType.None, 0, 0);
            else
            {
                // TCP/UDP first: an IP range "to the end" (IPCSE = 0) then covers the finished transport checksum.
                if (transport) Insert(packet, context.TransportStart, context.TransportOffset, context.TransportEnd);
                if (ip) Insert(packet, context.IpStart, context.IpOffset, context.IpEnd);
            }
        }
        else if (request.LegacyChecksum)
        {
            Insert(packet, request.LegacyStart, request.LegacyOffset, 0);
        }
        var frame = Tag(buffer, offset, length, request);
        device.Send(frame, offload.NeedsChecksum ? offload with { ChecksumStart = (ushort)(offload.ChecksumStart + frame.Length - length) } : offload);
    }

    private void Insert(Span<byte> packet, int start, int offset, int end)
    {
        if (!ChecksumOffload.TryInsert(packet, start, offset, end))
        {
            // The frame still goes out, with whatever the driver put in the field (as hardware would).
            device.Counters.TxErrors++;
            device.Faults.Warn(device.Log, "transmit checksum fields outside the packet", (ulong)start << 32 | (uint)offset);
        }
    }

    /// <summary>Inserts VET + SPECIAL after the source address (SDM 3.3.8) by moving the 12 address bytes into the headroom.</summary>
    private Span<byte> Tag(byte[] buffer, int offset, int length, in TransmitRequest request)
    {
        if (!request.InsertVlan || length < MacAddressesLength) return buffer.AsSpan(offset, length);
        var frame = buffer.AsSpan(offset - TagLength, length + TagLength);
        buffer.AsSpan(offset, MacAddressesLength).CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame[MacAddressesLength..], (ushort)device.Registers.Get(Vet));
        BinaryPrimitives.WriteUInt16BigEndian(frame[(MacAddressesLength + 2)..], request.Special);
        return frame;
    }

    /// <summary>
    /// TSE: the context's TUCMD.TCP and TUCMD.IP say what the packet is (the part does not parse it,
    /// nor does QEMU's e1000), HDRLEN where the payload starts; every segment's IP and TCP/UDP
    /// checksums are recomputed, so the checksum fields need no offload of their own.
    /// </summary>
    private void SendSegmented(byte[] buffer, int offset, int length, in TransmitRequest request, in TransmitContext context)
    {
        var stats = device.Statistics;
        if (context.HeaderLength == 0)
        {
            // HDRLEN is mandatory for TSE (SDM 3.3.6); 0 would let the segmenter guess the headers.
            stats.Increment(Statistics.Tsctfc);
            device.Counters.TxErrors++;
            device.Faults.Warn(device.Log, "TSO packet without HDRLEN (MSS)", context.Mss);
            return;
        }
        var frame = Tag(buffer, offset, length, request);
        var type = !context.Tcp ? GsoType.UdpL4 : context.IPv4 ? GsoType.TcpV4 : GsoType.TcpV6;
        var offload = new FrameOffload(true, 0, 0, type, (ushort)(context.HeaderLength + frame.Length - length), context.Mss);
        stats.Increment(device.Send(frame, offload) == TransmitResult.Refused ? Statistics.Tsctfc : Statistics.Tsctc);
    }
}
