using System.Buffers.Binary;
using Polynic.Native;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>
/// A hostile client: every case must end in an error reply with the expected errno or in a
/// clean disconnect of that client, and the server must then serve a fresh client.
/// </summary>
public sealed class MalformedMessageTests
{
    private const uint EINVAL = 22, ENOSYS = 38, EEXIST = 17, ENOENT = 2, ENOTSUP = 95;

    public static TheoryData<string> Cases => new(Scenarios.Keys);

    private static readonly Dictionary<string, Action<VfioUserTestClient>> Scenarios = new()
    {
        ["header size below 16"] = c => { c.Version(); c.SendRaw(Header(1, 4, 8)); Assert.True(c.WaitForDisconnect()); },
        ["size above the cap"] = c => { c.Version(); c.SendRaw(Header(1, 10, 64 * 1024 * 1024)); Assert.True(c.WaitForDisconnect()); },
        ["unknown message type"] = c => { c.Version(); c.SendRaw(Header(1, 4, 16, flags: 5)); Assert.True(c.WaitForDisconnect()); },
        ["truncated message then close"] = c => { c.Version(); c.SendRaw(Header(1, 10, 100)); },
        ["unknown command"] = c => { c.Version(); ExpectError(c.Request((Command)99, new byte[8]), ENOSYS); },
        ["get region io fds"] = c => { c.Version(); ExpectError(c.Request(Command.DeviceGetRegionIoFds, new byte[16]), ENOSYS); },
        ["command before version"] = c => ExpectError(c.RegionRead(7, 0, 4), EINVAL),
        ["version twice"] = c => { c.Version(); ExpectError(c.Version(), EINVAL); },
        ["version major 1"] = c =>
        {
            var payload = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(payload, 1);
            ExpectError(c.Request(Command.Version, payload), ENOTSUP);
            Assert.True(c.WaitForDisconnect());
        },
        ["version json malformed"] = c => { ExpectError(c.Version("{\"capabilities\":"), EINVAL); Assert.True(c.WaitForDisconnect()); },
        ["version json max_data_xfer_size a string"] = c => ExpectError(c.Version("{\"capabilities\":{\"max_data_xfer_size\":\"big\"}}"), EINVAL),
        ["version payload too short"] = c => ExpectError(c.Request(Command.Version, new byte[2]), EINVAL),
        ["device info argsz too small"] = c => { c.Version(); ExpectError(c.Request(Command.DeviceGetInfo, new byte[16]), EINVAL); },
        ["device info payload too short"] = c => { c.Version(); ExpectError(c.Request(Command.DeviceGetInfo, new byte[4]), EINVAL); },
        ["irq info bad index"] = c => { c.Version(); var p = new byte[16]; new IrqInfo(16, 0, 5, 0).Write(p); ExpectError(c.Request(Command.DeviceGetIrqInfo, p), EINVAL); },
        ["read crossing the end of a BAR"] = c => { c.Version(); ExpectError(c.RegionRead(0, 4092, 8), EINVAL); },
        ["read at an offset past a BAR"] = c => { c.Version(); ExpectError(c.RegionRead(0, ulong.MaxValue - 2, 4), EINVAL); },
        ["read of region 9"] = c => { c.Version(); ExpectError(c.RegionRead(9, 0, 4), EINVAL); },
        ["read of the absent ROM"] = c => { c.Version(); ExpectError(c.RegionRead(6, 0, 4), EINVAL); },
        ["read of count 0"] = c => { c.Version(); ExpectError(c.RegionRead(0, 0, 0), EINVAL); },
        ["read larger than max_data_xfer_size"] = c => { c.Version(); ExpectError(c.RegionRead(7, 0, 2 * 1024 * 1024), EINVAL); },
        ["config read crossing 256"] = c => { c.Version(); ExpectError(c.RegionRead(7, 254, 4), EINVAL); },
        ["write count larger than its data"] = c =>
        {
            c.Version();
            var p = new byte[20];
            new RegionAccess(0, 0, 100).Write(p);
            ExpectError(c.Request(Command.RegionWrite, p), EINVAL);
        },
        ["dma map misaligned"] = c => { c.Version(); ExpectError(c.DmaMap(0x1001, 0x1000), EINVAL); },
        ["dma map empty"] = c => { c.Version(); ExpectError(c.DmaMap(0x1000, 0), EINVAL); },
        ["dma map wrapping"] = c => { c.Version(); ExpectError(c.DmaMap(0xFFFF_FFFF_FFFF_F000, 0x2000), EINVAL); },
        ["dma map overlapping"] = c => { c.Version(); Assert.False(c.DmaMap(0x10000, 0x2000).IsError); ExpectError(c.DmaMap(0x11000, 0x2000), EEXIST); },
        ["dma map beyond the memfd"] = c =>
        {
            c.Version();
            using var ram = new GuestRam(0x1000);
            ExpectError(c.DmaMap(0x10000, 0x1_0000_0000, ram.Fd.Number), EINVAL);
        },
        ["dma map unknown flags"] = c => { c.Version(); ExpectError(c.DmaMap(0x10000, 0x1000, flags: 0x80), EINVAL); },
        ["dma map with two fds"] = c =>
        {
            c.Version();
            using var a = EventFd.Create();
            using var b = EventFd.Create();
            var p = new byte[32];
            new DmaMapRequest(32, 3, 0, 0x10000, 0x1000).Write(p);
            ExpectError(c.Request(Command.DmaMap, p, [a.Number, b.Number]), EINVAL);
        },
        ["dma unmap of nothing"] = c => { c.Version(); ExpectError(c.DmaUnmap(0x10000, 0x1000), ENOENT); },
        ["dma unmap with dirty bitmap"] = c => { c.Version(); ExpectError(c.DmaUnmap(0x10000, 0x1000, flags: 1), EINVAL); },
        ["fd attached to device info"] = c =>
        {
            c.Version();
            using var fd = EventFd.Create();
            var p = new byte[16];
            new DeviceInfo(16, 0, 0, 0).Write(p);
            ExpectError(c.Request(Command.DeviceGetInfo, p, [fd.Number]), EINVAL);
        },
        ["too many fds"] = c =>
        {
            c.Version();
            var fds = Enumerable.Range(0, 20).Select(_ => EventFd.Create()).ToArray();
            try { ExpectError(c.SetIrqs(2, 0, 4, 4 | 32, fds.Select(f => f.Number).ToArray()), EINVAL); }
            finally { foreach (var f in fds) f.Dispose(); }
        },
        ["set irqs beyond the vectors"] = c => { c.Version(); ExpectError(c.SetIrqs(2, 3, 2, 1 | 32), EINVAL); },
        ["set irqs two data kinds"] = c => { c.Version(); ExpectError(c.SetIrqs(0, 0, 1, 1 | 2 | 16), EINVAL); },
        ["set irqs fd count mismatch"] = c =>
        {
            c.Version();
            using var fd = EventFd.Create();
            ExpectError(c.SetIrqs(2, 0, 2, 4 | 32, [fd.Number]), EINVAL);
        },
        ["set irqs with a memfd instead of an eventfd"] = c =>
        {
            c.Version();
            using var ram = new GuestRam(0x1000);
            ExpectError(c.SetIrqs(0, 0, 1, 4 | 32, [ram.Fd.Number]), EINVAL);
        },
        ["set irqs bool data missing"] = c => { c.Version(); ExpectError(c.SetIrqs(2, 0, 4, 2 | 32), EINVAL); },
        ["set irqs msix unmask"] = c => { c.Version(); ExpectError(c.SetIrqs(2, 0, 1, 1 | 16), EINVAL); },
        ["set irqs argsz too small"] = c =>
        {
            c.Version();
            var p = new byte[20];
            new IrqSet(8, 1 | 32, 0, 0, 0).Write(p);
            ExpectError(c.Request(Command.DeviceSetIrqs, p), EINVAL);
        },
        ["reply that matches no request"] = c =>
        {
            c.Version();
            var reply = new byte[16];
            new MessageHeader(7, Command.DmaRead, 16, MessageFlags.Reply, 0).Write(reply);
            c.SendRaw(reply);
            Assert.False(c.RegionRead(7, 0, 4).IsError);
        },
        ["posted write that fails gets no reply"] = c =>
        {
            c.Version();
            var p = new byte[20];
            new RegionAccess(0x2000, 0, 4).Write(p);
            c.Send(Command.RegionWrite, p, default, (uint)MessageFlags.NoReply);
            var next = c.RegionRead(7, 0, 4);
            Assert.False(next.IsError);
            Assert.Equal((ushort)Command.RegionRead, next.Command);
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_message_gets_an_error_or_a_disconnect_and_the_server_carries_on(string scenario)
    {
        await using var fixture = await ServerFixture.StartAsync();
        using (var hostile = new VfioUserTestClient(fixture.SocketPath))
        {
            Scenarios[scenario](hostile);
        }
        fixture.WaitForIdle();

        using var fresh = fixture.Connect();
        Assert.Equal(0x5678_1234u, fresh.ReadConfig32(0));
        Assert.Equal(2, fixture.Server.ClientsServed);
    }

    [Fact]
    public async Task Garbage_stream_never_hangs_the_server()
    {
        await using var fixture = await ServerFixture.StartAsync();
        var random = new Random(1234);
        for (int round = 0; round < 20; round++)
        {
            using (var hostile = new VfioUserTestClient(fixture.SocketPath))
            {
                hostile.Version();
                var junk = new byte[random.Next(16, 4096)];
                random.NextBytes(junk);
                // Keep sizes plausible half of the time so the server parses deeper.
                if (round % 2 == 0) BinaryPrimitives.WriteUInt32LittleEndian(junk.AsSpan(4), (uint)junk.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(junk.AsSpan(8), 0);
                try { hostile.SendRaw(junk); } catch (IOException) { }
            }
            fixture.WaitForIdle();
        }
        using var fresh = fixture.Connect();
        Assert.Equal(0x5678_1234u, fresh.ReadConfig32(0));
    }

    private static byte[] Header(ushort id, ushort command, uint size, uint flags = 0)
    {
        var bytes = new byte[16];
        new MessageHeader(id, (Command)command, size, (MessageFlags)flags, 0).Write(bytes);
        return bytes;
    }

    private static void ExpectError(Reply reply, uint errno)
    {
        Assert.True(reply.IsError, $"expected errno {errno}, got a successful reply");
        Assert.Equal(errno, reply.Error);
        Assert.Empty(reply.Payload);
    }
}
