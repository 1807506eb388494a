using System.Buffers.Binary;

namespace Polynic.Core.Nic.Offload;

/// <summary>
/// Completing checksums a driver left to the device: the e1000 "sum from CSS to CSE, store at CSO"
/// rule and the virtio-net partial checksum (csum_start/csum_offset). Both sum the data including
/// the checksum field, which the driver pre-loaded (with the pseudo-header sum, or zero).
/// </summary>
public static class ChecksumOffload
{
    /// <summary>
    /// e1000 checksum insertion (8254x manual, transmit context/legacy descriptors: CSS, CSO, CSE):
    /// sums bytes <paramref name="start"/> through <paramref name="end"/> inclusive (0 = to the end of
    /// the packet; an end beyond the packet is the end of the packet) and stores the checksum big-endian
    /// at <paramref name="offset"/> (from the start of the packet). A zero result is stored as 0xFFFF,
    /// as QEMU e1000's putsum does. Returns false, changing nothing, when the range or the field does
    /// not lie inside the packet.
    /// </summary>
    public static bool TryInsert(Span<byte> packet, int start, int offset, int end)
    {
        int stop = packet.Length;
        if (end > 0 && end < stop) stop = end + 1;
        if (start < 0 || start >= stop || offset < 0 || offset > packet.Length - 2) return false;
        var c = new InternetChecksum();
        c.Add(packet[start..stop]);
        BinaryPrimitives.WriteUInt16BigEndian(packet[offset..], c.FinishNonZero());
        return true;
    }

    /// <summary>
    /// Completes a virtio-net partial checksum (virtio 1.2, 5.1.6.2, VIRTIO_NET_HDR_F_NEEDS_CSUM):
    /// sums from <paramref name="start"/> to the end of the frame and stores the checksum at
    /// <paramref name="start"/> + <paramref name="offset"/>. Returns false, changing nothing, when
    /// the field does not lie inside the frame.
    /// </summary>
    public static bool TryComplete(Span<byte> frame, int start, int offset)
    {
        if (start < 0 || offset < 0 || (long)start + offset > frame.Length - 2) return false;
        var c = new InternetChecksum();
        c.Add(frame[start..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], c.FinishNonZero());
        return true;
    }

    /// <summary>Completes the partial checksum described by <paramref name="offload"/>; true when there was none to do.</summary>
    public static bool TryComplete(Span<byte> frame, in Polynic.Core.Nic.FrameOffload offload) =>
        !offload.NeedsChecksum || TryComplete(frame, offload.ChecksumStart, offload.ChecksumOffset);
}
