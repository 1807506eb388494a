using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Virtio;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.VirtioNet.Tests.Support;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;

namespace Polynic.Personalities.VirtioNet.Tests;

/// <summary>
/// GSO receive: with GUEST_CSUM and GUEST_TSO4/6 a port's 64 KiB GSO frame reaches the driver whole,
/// its offload in the virtio_net_hdr, across mergeable buffers; otherwise the core segments it.
/// </summary>
public class VirtioNetReceiveOffloadTests
{
    private const ulong Basic = VirtioFeatures.Version1 | Mac | Status | Csum | HostTso4 | HostTso6 | GuestCsum | CtrlVq | CtrlRx | CtrlVlan | MrgRxbuf;
    private const ulong WithGuestTso = Basic | GuestTso4 | GuestTso6 | CtrlGuestOffloads;
    private static readonly FrameOffload Tso4 = new(true, 34, 16, GsoType.TcpV4, HeaderLength: 54, SegmentSize: 1448);
    private const ulong RxBase = 0x80_0000;

    private static byte[] BigTcp(int payload)
    {
        var data = new byte[payload];
        new Random(7).NextBytes(data);
        return Frames.Tcp(VirtioNetRig.Mac, VirtioNetRig.Peer, data, validChecksums: false);
    }

    /// <summary>The frame as the driver sees it: header (12 bytes) and data gathered over the used buffers of 1536 bytes each.</summary>
    private static (byte[] Header, byte[] Frame) Gather(VirtioNetRig r, List<(uint Id, uint Length)> used)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < used.Count; i++) bytes.AddRange(r.Ram(RxBase + used[i].Id * 0x1_0000UL, (int)used[i].Length).ToArray());
        return (bytes.Take(12).ToArray(), bytes.Skip(12).ToArray());
    }

    [Fact]
    public void Guest_tso_and_guest_offloads_control_are_offered_and_the_nic_asks_its_port_for_gso()
    {
        using var r = new VirtioNetRig();
        ulong f = r.OfferedFeatures();
        Assert.Equal(GuestTso4 | GuestTso6 | CtrlGuestOffloads, f & (GuestTso4 | GuestTso6 | CtrlGuestOffloads));
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, ((IPortReceiver)r.Nic).ReceiveCapabilities);
        Assert.False(r.Negotiate(VirtioFeatures.Version1 | GuestTso4));          // 5.1.3.1: GUEST_TSO4 needs GUEST_CSUM
        Assert.False(r.Negotiate(VirtioFeatures.Version1 | GuestCsum | CtrlGuestOffloads)); // needs CTRL_VQ
        Assert.True(r.Negotiate(WithGuestTso));
    }

    [Fact]
    public void A_64_KiB_gso_frame_reaches_the_driver_whole_across_mergeable_buffers_with_its_offload_in_the_header()
    {
        using var r = new VirtioNetRig();
        r.Start(WithGuestTso);
        Assert.Equal(GuestCsum | GuestTso4 | GuestTso6, r.Nic.GuestOffloads);
        r.PostRx(60, 1536);
        var frame = BigTcp(64_000);

        // hdr_len as tun reports it (skb_headlen, here the whole linear frame): the device writes the parsed 54.
        ((IPortReceiver)r.Nic).Receive(frame, Tso4 with { HeaderLength = 9000 });

        var used = r.Rx().TakeUsed();
        int expectedBuffers = (frame.Length + 12 + 1535) / 1536;
        Assert.Equal(expectedBuffers, used.Count);
        var (header, got) = Gather(r, used);
        Assert.Equal(frame, got);
        Assert.Equal(1, header[0]);                                                   // NEEDS_CSUM
        Assert.Equal(1, header[1]);                                                   // GSO TCPv4
        Assert.Equal(54, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2)));  // hdr_len
        Assert.Equal(1448, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4))); // gso_size
        Assert.Equal(34, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(6)));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(8)));
        Assert.Equal(expectedBuffers, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10)));  // num_buffers
        Assert.Equal(1, r.Nic.Counters.RxGsoFrames);
        Assert.Equal(0, r.Nic.Counters.RxSegments);
    }

    [Fact]
    public void A_gso_frame_that_waited_for_buffers_keeps_its_offload_and_gets_the_parsed_header_length()
    {
        using var r = new VirtioNetRig();
        r.Start(WithGuestTso | VirtioFeatures.EventIndex);
        var frame = BigTcp(20_000);
        ((IPortReceiver)r.Nic).Receive(frame, Tso4 with { HeaderLength = 200 });
        Assert.Equal(0, r.Nic.Counters.RxFrames);
        r.PostRx(20, 1536);
        var used = r.Rx().TakeUsed();
        var (header, got) = Gather(r, used);
        Assert.Equal(frame, got);
        Assert.Equal((1, 1), (header[0], header[1]));
        Assert.Equal(54, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2)));
        Assert.Equal(1448, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4)));
    }

    [Fact]
    public void Without_guest_tso_the_core_segments_and_the_driver_gets_complete_frames()
    {
        using var r = new VirtioNetRig();
        r.Start(Basic);
        r.PostRx(60, 1536);
        var frame = BigTcp(10_000);
        ((IPortReceiver)r.Nic).Receive(frame, Tso4);
        var used = r.Rx().TakeUsed();
        Assert.Equal(7, used.Count);
        Assert.Equal(7, r.Nic.Counters.RxSegments);
        Assert.Equal(0, r.Nic.Counters.RxGsoFrames);
        foreach (var u in used)
        {
            var header = r.Ram(RxBase + u.Id * 0x1_0000UL, 12);
            Assert.Equal(0, header[0] | header[1]);
            Assert.True(u.Length <= 12 + 54 + 1448);
        }
    }

    [Fact]
    public void Guest_offloads_set_turns_tso_off_and_on_and_refuses_what_was_not_negotiated()
    {
        using var r = new VirtioNetRig();
        r.Start(WithGuestTso);
        r.PostRx(60, 1536);
        Span<byte> offloads = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(offloads, GuestCsum);
        Assert.Equal(0, r.Control(5, 0, offloads));
        Assert.Equal(GuestCsum, r.Nic.GuestOffloads);
        ((IPortReceiver)r.Nic).Receive(BigTcp(5000), Tso4);
        Assert.Equal(4, r.Nic.Counters.RxSegments);

        BinaryPrimitives.WriteUInt64LittleEndian(offloads, GuestCsum | GuestTso4);
        Assert.Equal(0, r.Control(5, 0, offloads));
        ((IPortReceiver)r.Nic).Receive(BigTcp(5000), Tso4);
        Assert.Equal(1, r.Nic.Counters.RxGsoFrames);

        BinaryPrimitives.WriteUInt64LittleEndian(offloads, GuestCsum | 1UL << 9);   // GUEST_ECN: not offered
        Assert.Equal(1, r.Control(5, 0, offloads));
        Assert.Equal(GuestCsum | GuestTso4, r.Nic.GuestOffloads);
    }

    [Fact]
    public void Data_valid_reaches_a_guest_csum_driver_and_nothing_else_does_without_it()
    {
        using var r = new VirtioNetRig();
        r.Start(Basic);
        r.PostRx(4, 1536);
        var frame = Frames.Tcp(VirtioNetRig.Mac, VirtioNetRig.Peer, new byte[100]);
        ((IPortReceiver)r.Nic).Receive(frame, default(FrameOffload) with { DataValid = true });
        var used = Assert.Single(r.Rx().TakeUsed());
        Assert.Equal(2, r.Ram(RxBase + used.Id * 0x1_0000UL, 1)[0]);

        using var plain = new VirtioNetRig();
        plain.Start(VirtioFeatures.Version1 | Mac | MrgRxbuf);
        plain.PostRx(4, 1536);
        // A partial checksum for a driver without GUEST_CSUM is finished by the core (5.1.6.4.1: flags 0).
        var partial = Frames.Tcp(VirtioNetRig.Mac, VirtioNetRig.Peer, new byte[100], validChecksums: false);
        ((IPortReceiver)plain.Nic).Receive(partial, Tso4 with { GsoType = GsoType.None, HeaderLength = 0, SegmentSize = 0 });
        ((IPortReceiver)plain.Nic).Receive(frame, default(FrameOffload) with { DataValid = true });
        var two = plain.Rx().TakeUsed();
        Assert.Equal(2, two.Count);
        Assert.All(two, u => Assert.Equal(0, plain.Ram(RxBase + u.Id * 0x1_0000UL, 1)[0]));
    }

    [Fact]
    public void A_gso_description_that_does_not_fit_the_frame_is_a_counted_drop()
    {
        using var r = new VirtioNetRig();
        r.Start(WithGuestTso);
        r.PostRx(60, 1536);
        // IPv4 frame called TCPv6; checksum field beyond the end; no segment size.
        ((IPortReceiver)r.Nic).Receive(BigTcp(5000), Tso4 with { GsoType = GsoType.TcpV6 });
        ((IPortReceiver)r.Nic).Receive(BigTcp(5000), Tso4 with { ChecksumStart = 6000 });
        ((IPortReceiver)r.Nic).Receive(BigTcp(5000), Tso4 with { SegmentSize = 0 });
        Assert.Equal(3, r.Nic.Counters.RxOffloadErrors);
        Assert.Empty(r.Rx().TakeUsed());
        Assert.Null(r.Machine.Function(r.Slot).FailureReason);
    }
}
