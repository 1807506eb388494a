using System.Diagnostics;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Core.Virtio;
using Polynic.Personalities.E1000.Tests.Support;
using Polynic.Personalities.VirtioNet.Tests.Support;
using Polynic.Ports.Loopback;
using static Polynic.Personalities.VirtioNet.VirtioNetFeatures;

namespace Polynic.Personalities.VirtioNet.Tests;

/// <summary>
/// 64 KiB TCP frames cut by the core into 512 segments towards a guest that does not drain: one
/// frame holds a thread for at most the backpressure limit, never while it holds another device's
/// lock, and what was not taken is counted.
/// </summary>
public class VirtioNetBackpressureTests
{
    private const ulong Features = VirtioFeatures.Version1 | Mac | Status | Csum | HostTso4 | HostTso6 | GuestCsum | CtrlVq | MrgRxbuf;

    /// <summary>A NIC with no room ever: each frame would make a port thread wait the full limit.</summary>
    private sealed class NeverDraining() : NicDevice(new NicSettings(MacAddress.FromUInt64(0x02_00_00_00_00_09)))
    {
        public override PciFunctionDefinition Definition => throw new NotSupportedException();
        protected override bool CanReceive(int frameLength) => false;
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame) => Counters.RxNoBuffer++;
        protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) { }
        protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
        protected override void ResetDevice() { }
    }

    [Fact]
    public void A_64_kib_tso_frame_towards_a_full_nic_through_an_inline_port_is_sent_at_once_and_the_drops_are_counted()
    {
        using var pair = new PortPair(new PortPairOptions { Delivery = LoopbackDelivery.Inline });
        var destination = new NeverDraining { ReceiveBackpressureLimit = TimeSpan.FromMilliseconds(50) };
        destination.AttachPort(pair.B);
        using var r = new VirtioNetRig(port: pair.A);
        r.Start(Features);
        // 14 + 20 + 20 + 65495 bytes, MSS 128: 512 segments, cut by the core (the port takes no offloads).
        var frame = Frames.Tcp(VirtioNetRig.Peer, VirtioNetRig.Mac, new byte[65_495], validChecksums: false);
        var header = VirtioNetRig.Header(flags: 1, gso: 1, hdrLen: 54, gsoSize: 128, csumStart: 34, csumOffset: 16);
        header.CopyTo(r.Ram(VirtioNetRig.Buffers, 12));
        frame.CopyTo(r.Ram(VirtioNetRig.Buffers + 12, frame.Length));
        r.Tx().Add((VirtioNetRig.Buffers, (uint)(12 + frame.Length), false));

        var clock = Stopwatch.StartNew();
        r.Write(VirtioPciLayout.NotifyOffset + VirtioPciLayout.NotifyMultiplier, 1, 2);
        // Were the destination to wait for room per segment, the sender's worker would hold the
        // sender's device lock for 512 × 50 ms; a register access of its guest waits for that lock.
        Assert.True(SpinWait.SpinUntil(() => r.Tx().UsedIndex == 1, TimeSpan.FromSeconds(60)), "the frame never completed");
        r.Read(0x14, 1);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the sender was held {clock.ElapsedMilliseconds} ms");
        Assert.Equal(512, r.Nic.Counters.TxSegments);
        Assert.Equal(512, destination.Counters.RxNoBuffer);
    }

    [Fact]
    public void A_64_kib_gso_frame_for_a_guest_with_tso_off_and_no_buffers_holds_the_port_thread_at_most_the_limit()
    {
        // A tap hands GSO frames to virtio-net (it may take them), but this guest did not negotiate
        // GUEST_TSO4, so the core segments them; it posted no receive buffers.
        var port = new OffloadRecordingPort(PortCapabilities.None);
        using var r = new VirtioNetRig(port: port);
        r.Start(Features);
        IPortReceiver wire = port.Receiver!;
        // Fill the frames waiting for buffers, without waiting for room.
        r.Nic.ReceiveBackpressureLimit = TimeSpan.Zero;
        var filler = Frames.Raw(VirtioNetRig.Mac, 1514);
        for (int i = 0; i < ReceivePath.FifoBytes / 1514 + 10; i++) wire.Receive(filler);
        long missed = r.Nic.Counters.RxNoBuffer;
        Assert.True(missed > 0);

        r.Nic.ReceiveBackpressureLimit = TimeSpan.FromMilliseconds(50);
        var frame = Frames.Tcp(VirtioNetRig.Mac, VirtioNetRig.Peer, new byte[65_495]);
        var clock = Stopwatch.StartNew();
        wire.Receive(frame, new FrameOffload(false, 0, 0, GsoType.TcpV4, 54, 128));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the port's thread was held {clock.ElapsedMilliseconds} ms");
        // The small segments that still fit beside the waiting frames were taken; all others were
        // dropped and counted.
        long dropped = r.Nic.Counters.RxNoBuffer - missed;
        Assert.Equal(512, r.Nic.Counters.RxSegments + dropped);
        Assert.True(dropped > 400, $"{dropped} dropped");
        Assert.Equal(0, r.Nic.Counters.RxOffloadErrors);
    }
}
