using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Tests;

public sealed class DeviceProtocolTests
{
    [Fact]
    public async Task Version_is_0_0_with_capabilities_json()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = new VfioUserTestClient(fixture.SocketPath);

        var reply = client.Version();

        Assert.False(reply.IsError);
        Assert.Equal((ushort)Command.Version, reply.Command);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(reply.Payload));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(reply.Payload.AsSpan(2)));
        Assert.Equal(0, reply.Payload[^1]); // NUL-terminated, as QEMU checks
        using var json = JsonDocument.Parse(Encoding.UTF8.GetString(reply.Payload, 4, reply.Payload.Length - 5));
        var caps = json.RootElement.GetProperty("capabilities");
        Assert.Equal(1024 * 1024, caps.GetProperty("max_data_xfer_size").GetInt32());
        Assert.Equal(16, caps.GetProperty("max_msg_fds").GetInt32());
        Assert.False(caps.TryGetProperty("migration", out _));
        Assert.False(caps.TryGetProperty("write_multiple", out _));
    }

    [Fact]
    public async Task Device_info_reports_a_resettable_pci_device_with_9_regions_and_5_irqs()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        var payload = new byte[16];
        new DeviceInfo(16, 0, 0, 0).Write(payload);
        var reply = client.Request(Command.DeviceGetInfo, payload);

        Assert.False(reply.IsError);
        Assert.Equal(new DeviceInfo(16, 3, 9, 5), DeviceInfo.Read(reply.Payload));
    }

    [Theory]
    [InlineData(0u, 4096ul, 3u)]
    [InlineData(1u, 32ul, 3u)]
    [InlineData(2u, 4096ul, 3u)]
    [InlineData(3u, 0ul, 0u)] // upper half of the 64-bit BAR 2
    [InlineData(4u, 0ul, 0u)]
    [InlineData(5u, 0ul, 0u)]
    [InlineData(6u, 0ul, 0u)] // ROM
    [InlineData(7u, 256ul, 3u)] // config space
    [InlineData(8u, 0ul, 0u)] // VGA
    public async Task Region_info_follows_the_definition(uint index, ulong size, uint flags)
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        var reply = RegionInfoReply(client, index, argsz: 32);

        Assert.False(reply.IsError);
        Assert.Equal(32, reply.Payload.Length);
        var info = RegionInfo.Read(reply.Payload);
        Assert.Equal(new RegionInfo(32, flags, index, 0, size, 0), info);
    }

    [Fact]
    public async Task Region_info_accepts_a_larger_argsz_and_refuses_a_small_one_or_a_bad_index()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        var large = RegionInfoReply(client, 0, argsz: 64);
        Assert.False(large.IsError);
        Assert.Equal(32u, RegionInfo.Read(large.Payload).ArgSize);

        var small = RegionInfoReply(client, 0, argsz: 16);
        Assert.True(small.IsError);
        Assert.Equal(22u, small.Error);

        var missing = RegionInfoReply(client, 9, argsz: 32);
        Assert.True(missing.IsError);
        Assert.Equal(22u, missing.Error);
    }

    [Theory]
    [InlineData(0u, 1u, 7u)] // INTx: EVENTFD | MASKABLE | AUTOMASKED
    [InlineData(1u, 0u, 0u)] // no MSI capability
    [InlineData(2u, 4u, 1u)] // MSI-X: EVENTFD, resizable
    [InlineData(3u, 0u, 0u)] // ERR
    [InlineData(4u, 0u, 0u)] // REQ
    public async Task Irq_info_follows_the_definition(uint index, uint count, uint flags)
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        var payload = new byte[16];
        new IrqInfo(16, 0, index, 0).Write(payload);
        var reply = client.Request(Command.DeviceGetIrqInfo, payload);

        Assert.False(reply.IsError);
        Assert.Equal(new IrqInfo(16, flags, index, count), IrqInfo.Read(reply.Payload));
    }

    [Fact]
    public async Task Config_space_reads_the_identity()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        Assert.Equal(0x5678_1234u, client.ReadConfig32(0));
        var classReply = client.RegionRead(7, 8, 4);
        Assert.Equal(new RegionAccess(8, 7, 4), RegionAccess.Read(classReply.Payload));
        Assert.Equal(0x0200_0001u, BinaryPrimitives.ReadUInt32LittleEndian(classReply.Payload.AsSpan(16)));
    }

    [Fact]
    public async Task Bar_writes_reach_the_device_and_read_back_including_posted_writes()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();

        client.WriteBar64(0, 0x10, 0x1122_3344_5566_7788);
        Assert.Equal(0x1122_3344_5566_7788ul, client.ReadBar64(0, 0x10));

        // A posted write gets no reply, and a later read must not pass it (spec, "Command Concurrency").
        var data = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, 0xCAFE_F00D);
        client.RegionWrite(0, 0x20, data, posted: true);
        var read = client.RegionRead(0, 0x20, 4);
        Assert.Equal(0xCAFE_F00Du, BinaryPrimitives.ReadUInt32LittleEndian(read.Payload.AsSpan(16)));

        var write = client.RegionWrite(0, 0x30, data);
        Assert.Equal(16, write.Payload.Length);
        Assert.Equal(new RegionAccess(0x30, 0, 4), RegionAccess.Read(write.Payload));
    }

    [Fact]
    public async Task Device_reset_resets_the_device()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        client.WriteBar64(0, 0x10, 42);

        var reply = client.Request(Command.DeviceReset, []);

        Assert.False(reply.IsError);
        Assert.Equal(1, fixture.Device.Resets);
        Assert.Equal(0ul, client.ReadBar64(0, 0x10));
    }

    private static Reply RegionInfoReply(VfioUserTestClient client, uint index, uint argsz)
    {
        var payload = new byte[32];
        new RegionInfo(argsz, 0, index, 0, 0, 0).Write(payload);
        return client.Request(Command.DeviceGetRegionInfo, payload);
    }
}
