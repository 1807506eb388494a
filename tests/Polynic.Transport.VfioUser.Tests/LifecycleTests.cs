using Polynic.Native;
using Polynic.Transport.VfioUser.Native;

namespace Polynic.Transport.VfioUser.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Reconnect_keeps_device_state_and_drops_the_old_clients_resources()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var ram = new GuestRam(0x4000);
        using (var first = fixture.Connect())
        {
            first.WriteBar64(0, 0x40, 0xDEAD_BEEF);
            DmaTests.EnableBusMaster(first);
            Assert.False(first.DmaMap(0x10_0000, 0x4000, ram.Fd.Number).IsError);
        }
        fixture.WaitForIdle();

        using var second = fixture.Connect();
        Assert.Equal(0xDEAD_BEEFul, second.ReadBar64(0, 0x40));
        Assert.Equal(2, fixture.Server.ClientsServed);
        // The first client's window is gone: mapping it again does not overlap, and DMA
        // before that fails.
        Assert.False(DmaTests.RunDma(second, TestNic.CommandDmaToGuest, 0x10_0000, 8));
        Assert.False(second.DmaMap(0x10_0000, 0x4000, ram.Fd.Number).IsError);
        Assert.True(DmaTests.RunDma(second, TestNic.CommandDmaToGuest, 0x10_0000, 8));
    }

    [Fact]
    public async Task Stop_disconnects_the_client_and_removes_the_socket_file()
    {
        var fixture = await ServerFixture.StartAsync();
        string path = fixture.SocketPath;
        using var client = fixture.Connect();
        Assert.True(File.Exists(path));

        await fixture.Server.DisposeAsync();

        Assert.True(fixture.Server.Completion.IsCompleted);
        Assert.False(File.Exists(path));
        Assert.True(client.WaitForDisconnect());
        await fixture.DisposeAsync(); // idempotent
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_but_a_live_server_is_not()
    {
        await using var fixture = await ServerFixture.StartAsync();
        var device = new TestNic();
        var function = new Polynic.Core.Pci.PciFunction(device, "dup");
        await using var duplicate = new Server.VfioUserServer(function, fixture.SocketPath);
        await Assert.ThrowsAsync<IOException>(() => duplicate.StartAsync());

        string stale = Path.Combine(Path.GetDirectoryName(fixture.SocketPath)!, "stale.sock");
        UnixSocket.Listen(stale, 1).Dispose(); // leaves the file, nobody listening
        await using var replacing = new Server.VfioUserServer(function, stale);
        await replacing.StartAsync();
        using var client = new VfioUserTestClient(stale);
        Assert.False(client.Version().IsError);
    }
}
