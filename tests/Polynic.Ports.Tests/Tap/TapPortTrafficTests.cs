using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Tap;

/// <summary>Frames flow both ways between a TapPort and the Linux IPv4 stack of a test namespace.</summary>
public sealed class TapPortTrafficTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Fact]
    public void Kernel_answers_an_arp_request_sent_through_the_port()
    {
        using var tap = TapInNamespace.Create(vnetHeader: false);

        byte[] kernelMac = tap.ResolveKernelMac();

        var reply = tap.Recorder.WaitFor(frame => Frames.IsArpReplyFrom(frame, tap.KernelIp), Patience)!;
        Assert.Equal(tap.Station.Mac, reply.AsSpan(0, 6).ToArray());
        Assert.Equal(tap.Station.Mac, reply.AsSpan(32, 6).ToArray());
        Assert.Equal(tap.Station.Ip, reply.AsSpan(38, 4).ToArray());
        Assert.Equal(kernelMac, reply.AsSpan(6, 6).ToArray());
        Assert.True(tap.Port.Counters.FramesSent >= 1);
        Assert.True(tap.Port.Counters.FramesReceived >= 1);
    }

    [Fact]
    public void Kernel_answers_an_icmp_echo_request()
    {
        using var tap = TapInNamespace.Create(vnetHeader: false);
        byte[] kernelMac = tap.ResolveKernelMac();
        byte[] data = "polynic tap port echo test"u8.ToArray();

        Assert.True(tap.Port.Send(Frames.IcmpEchoRequest(tap.Station.Mac, kernelMac, tap.Station.Ip, tap.KernelIp, 0x5043, 7, data)));

        var reply = tap.Recorder.WaitFor(frame => Frames.IsIcmpEchoReply(frame, tap.KernelIp, 0x5043, 7), Patience);
        Assert.NotNull(reply);
        Assert.Equal(data, reply.AsSpan(42).ToArray());
        Assert.Equal(0, tap.Port.Counters.SendFailures);
    }

    [Fact]
    public void Echo_works_with_the_vnet_header_too()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        Assert.Equal(PortCapabilities.Checksum | PortCapabilities.Segmentation, tap.Port.Capabilities);
        byte[] kernelMac = tap.ResolveKernelMac();

        Assert.True(tap.Port.Send(Frames.IcmpEchoRequest(tap.Station.Mac, kernelMac, tap.Station.Ip, tap.KernelIp, 1, 1, new byte[64])));

        Assert.NotNull(tap.Recorder.WaitFor(frame => Frames.IsIcmpEchoReply(frame, tap.KernelIp, 1, 1), Patience));
    }

    [Fact]
    public void Partial_checksum_is_accepted_only_when_marked_as_needing_completion()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        byte[] kernelMac = tap.ResolveKernelMac();
        const ushort closedPort = 9;
        // A SYN whose checksum field holds only the pseudo-header sum, as a driver leaves it for offload.
        byte[] Syn(ushort sourcePort, uint sequence) => Frames.TcpV4(tap.Station.Mac, kernelMac, tap.Station.Ip, tap.KernelIp,
            sourcePort, closedPort, sequence, 0, Frames.TcpSyn, [], Frames.TcpChecksum.PseudoHeaderOnly);

        // Control: sent as a complete frame, the checksum is wrong and the kernel counts and drops it.
        long errorsBefore = tap.Namespace.SnmpCounter("Tcp", "InCsumErrors");
        Assert.True(tap.Port.Send(Syn(40001, 1000)));
        Assert.True(WaitUntil(() => tap.Namespace.SnmpCounter("Tcp", "InCsumErrors") > errorsBefore, Patience),
            "the kernel did not count the bad checksum");

        // Marked NEEDS_CSUM (csum_start = TCP header, csum_offset = 16): accepted, so the closed
        // port answers RST/ACK acknowledging the SYN.
        var offload = new FrameOffload(NeedsChecksum: true, ChecksumStart: 34, ChecksumOffset: 16, GsoType.None, 0, 0);
        Assert.True(tap.Port.Send(Syn(40002, 5000), offload));
        var reset = tap.Recorder.WaitFor(
            frame => Frames.IsTcpV4(frame, tap.KernelIp, closedPort, Frames.TcpRst | Frames.TcpAck, 5001), Patience);
        Assert.NotNull(reset);
        Assert.Null(tap.Recorder.WaitFor(frame => Frames.IsTcpV4(frame, tap.KernelIp, closedPort, Frames.TcpRst | Frames.TcpAck, 1001),
            TimeSpan.Zero));
    }

    [Fact]
    public void Gso_frame_larger_than_the_mtu_reaches_the_kernel_whole()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        byte[] kernelMac = tap.ResolveKernelMac();
        const ushort closedPort = 9;
        const int payload = 4000;
        const uint sequence = 70000;

        // SYN carrying 4000 bytes to a closed port: tcp_v4_send_reset acknowledges
        // seq + SYN + every payload byte it saw, so the ACK number proves the whole range arrived.
        var data = new byte[payload];
        Random.Shared.NextBytes(data);
        byte[] frame = Frames.TcpV4(tap.Station.Mac, kernelMac, tap.Station.Ip, tap.KernelIp, 40003, closedPort, sequence, 0,
            Frames.TcpSyn, data, Frames.TcpChecksum.PseudoHeaderOnly);
        Assert.True(frame.Length > 1514);
        var offload = new FrameOffload(true, 34, 16, GsoType.TcpV4, HeaderLength: 54, SegmentSize: 1448);

        Assert.True(tap.Port.Send(frame, offload));

        var reset = tap.Recorder.WaitFor(
            f => Frames.IsTcpV4(f, tap.KernelIp, closedPort, Frames.TcpRst | Frames.TcpAck, sequence + 1 + payload), Patience);
        Assert.NotNull(reset);
        Assert.Equal(frame.Length, tap.Port.Counters.BytesSent - BytesOfArpRequest);
    }

    private const int BytesOfArpRequest = 42;

    [Fact]
    public void Offloads_are_refused_without_the_vnet_header()
    {
        using var tap = TapInNamespace.Create(vnetHeader: false);
        Assert.Equal(PortCapabilities.None, tap.Port.Capabilities);
        var frame = new byte[60];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Frames.IPv4);

        Assert.False(tap.Port.Send(frame, new FrameOffload(true, 34, 16, GsoType.None, 0, 0)));
        Assert.False(tap.Port.Send(frame.AsSpan(0, 10)));

        Assert.Equal(2, tap.Port.Counters.SendFailures);
        Assert.Equal(0, tap.Port.Counters.FramesSent);
    }

    [Fact]
    public void Sending_allocates_nothing()
    {
        using var tap = TapInNamespace.Create(vnetHeader: true);
        byte[] frame = Frames.ArpRequest(tap.Station.Mac, tap.Station.Ip, tap.KernelIp);
        var offload = new FrameOffload(false, 0, 0, GsoType.None, 0, 0);
        tap.Port.Send(frame);
        tap.Port.Send(frame, offload);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            tap.Port.Send(frame);
            tap.Port.Send(frame, offload);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    internal static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
