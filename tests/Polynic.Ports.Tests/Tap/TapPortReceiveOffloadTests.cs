using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Tap;

/// <summary>
/// Receive offloads on a tap: a receiver that takes GSO frames gets the kernel's TCP sends whole
/// (TUNSETOFFLOAD TUN_F_CSUM|TSO4|TSO6), one that does not gets MTU-sized complete frames.
/// </summary>
public sealed class TapPortReceiveOffloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private const ushort StationPort = 5001;

    [Fact]
    public async Task A_receiver_that_takes_gso_gets_the_kernels_tcp_burst_as_one_gso_frame_that_segments_into_valid_frames()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true, receiveCapabilities: PortCapabilities.Checksum | PortCapabilities.Segmentation);
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, tap.Port.ReceiveOffloads);
        var data = SendTcpFromKernel(tap);

        var gso = tap.Recorder.WaitForOffloaded(f => f.Offload.GsoType == GsoType.TcpV4, Patience);
        Assert.True(gso is not null, $"no GSO frame; offloaded: {tap.Recorder.Offloaded.Length}, frames: {tap.Recorder.Received.Length}");
        var (frame, offload) = gso.Value;
        // No MSS option in our SYN-ACK: the kernel's default MSS is 536 (RFC 9293 3.7.1).
        Assert.Equal(536, offload.SegmentSize);
        Assert.True(offload.NeedsChecksum);
        Assert.Equal(34, offload.ChecksumStart);
        Assert.Equal(16, offload.ChecksumOffset);
        Assert.True(frame.Length > 54 + 536, $"GSO frame of {frame.Length} bytes");

        var sink = new Collect();
        var status = ReceiveOffloadCompletion.Complete(frame, offload, new byte[ReceiveOffloadCompletion.MaxFrameLength], ref sink, out int segments);
        Assert.Equal(OffloadStatus.Ok, status);
        Assert.True(segments > 1);
        Assert.All(sink.Frames, f => Assert.True(Frames.TcpV4ChecksumsValid(f)));
        Assert.All(sink.Frames, f => Assert.True(f.Length <= 54 + 536));
        Assert.Equal(0, tap.Port.Counters.ReceiveHeaderErrors);
        await data.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_receiver_that_takes_complete_frames_only_gets_mtu_sized_frames_and_no_offload()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        Assert.Equal(PortCapabilities.None, tap.Port.ReceiveOffloads);
        var data = SendTcpFromKernel(tap);
        Assert.NotNull(tap.Recorder.WaitFor(f => IsData(f, tap), Patience));
        Thread.Sleep(200);
        Assert.Empty(tap.Recorder.Offloaded);
        Assert.All(tap.Recorder.Received.Where(f => IsData(f, tap)), f =>
        {
            Assert.True(f.Length <= 54 + 536);
            Assert.True(Frames.TcpV4ChecksumsValid(f));
        });
        await data.WaitAsync(Patience);
    }

    /// <summary>
    /// The namespace's kernel connects to the made-up station and writes 64 KiB; the test answers
    /// the SYN, so the kernel sends its first window (10 segments, RFC 6928) in one burst.
    /// </summary>
    private static Task SendTcpFromKernel(TapInNamespace tap)
    {
        byte[] kernelMac = tap.ResolveKernelMac();
        string station = string.Join('.', tap.Station.Ip);
        var writer = Task.Run(() => tap.Namespace.Exec("timeout", "5", "bash", "-c", $"head -c 65536 /dev/zero > /dev/tcp/{station}/{StationPort}"));
        var syn = tap.Recorder.WaitFor(f => IsTcpTo(f, tap) && (f[47] & Frames.TcpSyn) != 0, Patience);
        Assert.NotNull(syn);
        ushort kernelPort = BinaryPrimitives.ReadUInt16BigEndian(syn.AsSpan(34));
        uint kernelSequence = BinaryPrimitives.ReadUInt32BigEndian(syn.AsSpan(38));
        Assert.True(tap.Port.Send(Frames.TcpV4(tap.Station.Mac, kernelMac, tap.Station.Ip, tap.KernelIp, StationPort, kernelPort,
            1000, kernelSequence + 1, Frames.TcpSyn | Frames.TcpAck, [], Frames.TcpChecksum.Full)));
        return writer;
    }

    private static bool IsTcpTo(byte[] f, TapInNamespace tap) =>
        f.Length >= 54 && Frames.EtherType(f) == Frames.IPv4 && f[23] == 6 && f.AsSpan(30, 4).SequenceEqual(tap.Station.Ip)
        && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)) == StationPort;

    private static bool IsData(byte[] f, TapInNamespace tap) => IsTcpTo(f, tap) && f.Length > 54 + 12;

    private struct Collect : ISegmentSink
    {
        public Collect() { }
        public List<byte[]> Frames { get; } = [];
        public bool OnSegment(ReadOnlySpan<byte> segment)
        {
            Frames.Add(segment.ToArray());
            return true;
        }
    }
}
