using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;

namespace Polynic.Core.Tests.Nic;

/// <summary>
/// The one virtio-net header codec of the tap port and the virtio-net personality: a header read from
/// either is untrusted, every field is checked against the frame it precedes.
/// </summary>
public sealed class VirtioNetHeaderTests
{
    private static byte[] Header(byte flags, byte gso, ushort hdrLen, ushort gsoSize, ushort csumStart, ushort csumOffset)
    {
        var h = new byte[VirtioNetHeader.Length];
        h[0] = flags;
        h[1] = gso;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), csumOffset);
        return h;
    }

    [Fact]
    public void A_tso_header_as_tun_writes_it_reads_back_as_the_offload()
    {
        Assert.True(VirtioNetHeader.TryRead(Header(1, 1, 66, 1448, 34, 16), 60_000, out var offload));
        Assert.Equal(new FrameOffload(true, 34, 16, GsoType.TcpV4, 66, 1448), offload);
        Assert.True(VirtioNetHeader.TryRead(Header(2, 0, 0, 0, 0, 0), 100, out var valid));
        Assert.True(valid.DataValid);
        Assert.False(valid.NeedsWork);
    }

    [Theory]
    [InlineData(1, 1, 66, 0, 34, 16, 60_000)]        // GSO without a segment size
    [InlineData(1, 1, 60_001, 1448, 34, 16, 60_000)]  // hdr_len beyond the frame
    [InlineData(1, 0, 0, 0, 59_990, 16, 60_000)]      // checksum field beyond the frame
    [InlineData(1, 0, 0, 0, 10, 6, 60_000)]           // checksum start inside the Ethernet header
    [InlineData(1, 3, 42, 1472, 34, 6, 60_000)]       // UFO: never asked for
    [InlineData(1, 5, 42, 1472, 34, 6, 60_000)]       // USO: never asked for
    [InlineData(1, 0x81, 66, 1448, 34, 16, 60_000)]   // ECN bit: TUN_F_TSO_ECN not set
    public void A_header_that_does_not_describe_its_frame_is_refused(byte flags, byte gso, ushort hdrLen, ushort gsoSize,
        ushort csumStart, ushort csumOffset, int frameLength)
    {
        Assert.False(VirtioNetHeader.TryRead(Header(flags, gso, hdrLen, gsoSize, csumStart, csumOffset), frameLength, out _));
    }

    [Fact]
    public void What_is_written_reads_back_as_the_same_offload_with_unused_fields_zero()
    {
        var h = new byte[VirtioNetHeader.Length];
        var tso = new FrameOffload(true, 34, 16, GsoType.TcpV6, 74, 1428);
        VirtioNetHeader.Write(h, tso, buffers: 3);
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(10)));
        Assert.True(VirtioNetHeader.TryRead(h, 60_000, out var read));
        Assert.Equal(tso, read);

        // DATA_VALID only without NEEDS_CSUM (virtio 1.2, 5.1.6.4.1); no stale checksum or GSO fields.
        VirtioNetHeader.Write(h, new FrameOffload(false, 99, 99, GsoType.None, 99, 99) { DataValid = true });
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, h);
    }
}
