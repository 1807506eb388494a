using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Tests;

[CollectionDefinition(nameof(SteadyStateTests), DisableParallelization = true)]
public sealed class SteadyStateCollection;

/// <summary>Measurements that need the process to themselves (allocation counts, descriptor counts).</summary>
[Collection(nameof(SteadyStateTests))]
public sealed class SteadyStateTests
{
    [Fact]
    public async Task Config_region_read_and_write_allocate_nothing_in_steady_state()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var write = new byte[16 + 16 + 4];
        new MessageHeader(1, Command.RegionWrite, (uint)write.Length, MessageFlags.Command, 0).Write(write);
        // Config space: the transport and the core's config path. (BAR accesses currently
        // allocate inside the core's BAR lookup, PciFunctionDefinition.FindBar, which uses LINQ.)
        new RegionAccess(0x10, 7, 4).Write(write.AsSpan(16));
        var read = new byte[32];
        new MessageHeader(2, Command.RegionRead, 32, MessageFlags.Command, 0).Write(read);
        new RegionAccess(0x10, 7, 4).Write(read.AsSpan(16));
        var reply = new byte[64];
        var raw = client.RawSocket;

        void RoundTrip(int count)
        {
            for (int i = 0; i < count; i++)
            {
                UnixSocket.Send(raw, write);
                ReceiveExactly(raw, reply.AsSpan(0, 32));
                UnixSocket.Send(raw, read);
                ReceiveExactly(raw, reply.AsSpan(0, 36));
            }
        }

        RoundTrip(200); // warm-up: JIT, tiering, pools
        long before = GC.GetTotalAllocatedBytes(precise: true);
        RoundTrip(2000);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // 4000 server round trips; anything per message would show up as tens of kilobytes.
        Assert.True(allocated < 4000, $"{allocated} bytes allocated over 4000 region accesses");
    }

    [Fact]
    public async Task Descriptors_from_refused_commands_and_departed_clients_are_closed()
    {
        await using var fixture = await ServerFixture.StartAsync();
        int before = OpenDescriptors();
        for (int round = 0; round < 20; round++)
        {
            using var client = fixture.Connect();
            using var eventfd = EventFd.Create();
            using var ram = new GuestRam(0x2000);
            var payload = new byte[16];
            new DeviceInfo(16, 0, 0, 0).Write(payload);
            Assert.True(client.Request(Command.DeviceGetInfo, payload, [eventfd.Number]).IsError);
            Assert.False(client.SetIrqs(0, 0, 1, 4 | 32, [eventfd.Number]).IsError);
            Assert.False(client.DmaMap(0x10_0000, 0x2000, ram.Fd.Number).IsError);
            Assert.False(client.DmaMap(0xC0000, 0x1000).IsError);
            client.Dispose();
            fixture.WaitForIdle();
        }
        Assert.InRange(OpenDescriptors(), 0, before + 2);
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private static void ReceiveExactly(FileDescriptor socket, Span<byte> buffer)
    {
        int got = 0, fds = 0, dropped = 0;
        while (got < buffer.Length)
        {
            int n = UnixSocket.Receive(socket, buffer[got..], default, ref fds, ref dropped);
            if (n == 0) throw new IOException("closed");
            got += n;
        }
    }
}
