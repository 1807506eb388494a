using System.Diagnostics;
using Polynic.Core.Nic;
using Polynic.Core.Pci;

namespace Polynic.Core.Tests.Nic;

/// <summary>
/// A GSO frame the core segments for a NIC whose guest is out of buffers: the port's thread waits
/// for room at most <see cref="NicDevice.ReceiveBackpressureLimit"/> for the whole frame, not per
/// segment, and the segments that found no room by then are dropped and counted.
/// </summary>
public class ReceiveBackpressureTests
{
    /// <summary>64 KiB of TCP payload at MSS 128: the segmenter's maximum of 512 segments.</summary>
    private const int Payload = 65_495, Mss = 128, Segments = (Payload + Mss - 1) / Mss;

    private static readonly FrameOffload Tso4 = new(true, 34, 16, GsoType.TcpV4, HeaderLength: 54, SegmentSize: Mss);

    /// <summary>Takes GSO in general but not now (the guest turned it off), and has room for <see cref="Room"/> more frames.</summary>
    private sealed class GuestOutOfBuffers() : NicDevice(new NicSettings(MacAddress.FromUInt64(0x02_00_00_00_00_01)))
    {
        public int Room;
        public int Taken;
        public override PciFunctionDefinition Definition => throw new NotSupportedException();
        public void GiveRoom(int frames)
        {
            lock (Sync)
            {
                Room += frames;
                ReceiveRoomAvailable();
            }
        }
        protected override PortCapabilities ReceiveOffloads => PortCapabilities.Checksum | PortCapabilities.Segmentation;
        protected override bool CanReceive(int frameLength) => Room > 0;
        protected override void ReceiveFrame(ReadOnlySpan<byte> frame)
        {
            if (Room == 0) { Counters.RxNoBuffer++; return; }
            Room--;
            Taken++;
        }
        protected override void ReadRegisters(int bar, ulong offset, Span<byte> data) { }
        protected override void WriteRegisters(int bar, ulong offset, ReadOnlySpan<byte> data) { }
        protected override void ResetDevice() { }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public void A_64_kib_gso_frame_holds_the_port_thread_at_most_the_limit_and_the_rest_is_dropped_and_counted(int room)
    {
        var nic = new GuestOutOfBuffers { Room = room, ReceiveBackpressureLimit = TimeSpan.FromMilliseconds(50) };
        var frame = FrameBuilder.Tcp(ipv6: false, payload: Payload, flags: 0x18);
        Assert.Equal(512, Segments);

        var clock = Stopwatch.StartNew();
        ((IPortReceiver)nic).Receive(frame, Tso4);

        // Per segment this would be 512 × 50 ms (25.6 s); for the frame it is 50 ms and some work.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the port's thread was held {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(45), $"the frame did not wait for room ({clock.ElapsedMilliseconds} ms)");
        Assert.Equal(room, nic.Taken);
        Assert.Equal(Segments - room, nic.Counters.RxNoBuffer);
        Assert.Equal(0, nic.Counters.RxOffloadErrors);
    }

    [Fact]
    public async Task Segments_go_on_once_the_guest_makes_room_within_the_limit()
    {
        var nic = new GuestOutOfBuffers { ReceiveBackpressureLimit = TimeSpan.FromSeconds(30) };
        var frame = FrameBuilder.Tcp(ipv6: false, payload: 10 * Mss, flags: 0x18);
        var port = Task.Run(() => ((IPortReceiver)nic).Receive(frame, Tso4));
        await Task.Delay(50);
        Assert.False(port.IsCompleted, "the port's thread should wait for room");
        nic.GiveRoom(10);
        await port.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(10, nic.Taken);
        Assert.Equal(0, nic.Counters.RxNoBuffer);
    }
}
