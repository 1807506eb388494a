using System.Buffers.Binary;
using Polynic.Core.Memory;

namespace Polynic.Transport.VfioUser.Tests;

public sealed class DmaTests
{
    private const ulong RamBase = 0x10_0000;

    [Fact]
    public async Task Device_dma_into_a_mapped_memfd_is_visible_to_the_client_and_back()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x10000);
        Assert.False(client.DmaMap(RamBase, (ulong)ram.Size, ram.Fd.Number).IsError);
        EnableBusMaster(client);

        var pattern = Enumerable.Range(0, 64).Select(i => (byte)(i * 3 + 1)).ToArray();
        WriteDmaBuffer(client, pattern);
        Assert.True(RunDma(client, TestNic.CommandDmaToGuest, RamBase + 0x1230, pattern.Length));
        Assert.Equal(pattern, ram.Bytes.Slice(0x1230, pattern.Length).ToArray());

        ram.Bytes.Slice(0x4000, 16).Fill(0xA5);
        Assert.True(RunDma(client, TestNic.CommandDmaFromGuest, RamBase + 0x4000, 16));
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5ul, client.ReadBar64(0, TestNic.DmaBuffer));

        // Outside the window, or after unmapping, DMA fails instead of touching anything.
        Assert.False(RunDma(client, TestNic.CommandDmaToGuest, RamBase + (ulong)ram.Size - 8, 16));
        var unmap = client.DmaUnmap(RamBase, (ulong)ram.Size);
        Assert.False(unmap.IsError);
        Assert.Equal(24, unmap.Payload.Length);
        Assert.False(RunDma(client, TestNic.CommandDmaToGuest, RamBase + 0x1230, 8));
    }

    [Fact]
    public async Task Dma_spanning_two_adjacent_windows_of_one_memfd_works()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x2000);
        Assert.False(client.DmaMap(RamBase, 0x1000, ram.Fd.Number, 0).IsError);
        Assert.False(client.DmaMap(RamBase + 0x1000, 0x1000, ram.Fd.Number, 0x1000).IsError);
        EnableBusMaster(client);

        var pattern = Enumerable.Range(0, 32).Select(i => (byte)(0x80 + i)).ToArray();
        WriteDmaBuffer(client, pattern);
        Assert.True(RunDma(client, TestNic.CommandDmaToGuest, RamBase + 0xFF0, pattern.Length));
        Assert.Equal(pattern, ram.Bytes.Slice(0xFF0, 32).ToArray());
    }

    [Fact]
    public async Task Dma_to_a_window_without_fd_goes_through_dma_read_and_write_messages()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var memory = new byte[0x1000];
        client.MessageMemory[0xC0000] = memory;
        Assert.False(client.DmaMap(0xC0000, 0x1000).IsError);
        EnableBusMaster(client);

        var pattern = Enumerable.Range(0, 40).Select(i => (byte)(200 - i)).ToArray();
        WriteDmaBuffer(client, pattern);
        Assert.True(RunDma(client, TestNic.CommandDmaToGuest, 0xC0100, pattern.Length));
        Assert.Equal(pattern, memory.AsSpan(0x100, pattern.Length).ToArray());

        memory.AsSpan(0x800, 8).Fill(0x3C);
        Assert.True(RunDma(client, TestNic.CommandDmaFromGuest, 0xC0800, 8));
        Assert.Equal(0x3C3C_3C3C_3C3C_3C3Cul, client.ReadBar64(0, TestNic.DmaBuffer));
        Assert.Equal(2, client.ServerRequests);
    }

    [Fact]
    public async Task Message_dma_from_a_device_thread_is_answered_while_the_session_serves_commands()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var memory = new byte[0x1000];
        memory.AsSpan(0, 4).Fill(7);
        client.MessageMemory[0xD0000] = memory;
        Assert.False(client.DmaMap(0xD0000, 0x1000).IsError);
        EnableBusMaster(client);

        // A device thread of its own reads guest memory; the reply is read by the session's
        // reader thread, which must keep serving while the client waits on its own command.
        var read = Task.Run(() =>
        {
            var buffer = new byte[4];
            bool ok = fixture.Device.Context.Dma.TryRead(new GuestAddress(0xD0000), buffer);
            return (ok, buffer);
        });
        var deadline = Environment.TickCount64 + 5000;
        while (!read.IsCompleted && Environment.TickCount64 < deadline)
            client.RegionRead(7, 0, 4); // lets the test client answer the server's DMA_READ
        var (ok, buffer) = await read;
        Assert.True(ok);
        Assert.Equal(new byte[] { 7, 7, 7, 7 }, buffer);
    }

    [Fact]
    public async Task Unmap_while_a_device_thread_copies_never_faults()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x10000);
        EnableBusMaster(client);
        var memory = fixture.Device.Context.Dma;

        using var stop = new CancellationTokenSource();
        int succeeded = 0, failed = 0;
        var copier = Task.Run(() =>
        {
            var buffer = new byte[0x8000];
            while (!stop.IsCancellationRequested)
            {
                if (memory.TryRead(new GuestAddress(RamBase), buffer)) Interlocked.Increment(ref succeeded);
                else Interlocked.Increment(ref failed);
                memory.TryWrite(new GuestAddress(RamBase + 0x8000), buffer);
            }
        });
        while (Volatile.Read(ref failed) == 0) Thread.Yield();
        for (int i = 0; i < 300; i++)
        {
            Assert.False(client.DmaMap(RamBase, (ulong)ram.Size, ram.Fd.Number).IsError);
            Assert.False(client.DmaUnmap(RamBase, (ulong)ram.Size).IsError);
        }
        stop.Cancel();
        await copier;
        // The copier ran against both states; had an unmap not waited for it, the process would have died.
        Assert.True(succeeded > 0, "the copier never saw the window mapped");
    }

    [Fact]
    public async Task Unmap_all_removes_every_window()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x4000);
        Assert.False(client.DmaMap(RamBase, 0x2000, ram.Fd.Number).IsError);
        Assert.False(client.DmaMap(0xC0000, 0x1000).IsError);

        Assert.False(client.DmaUnmap(0, 0, flags: 2).IsError);

        Assert.Equal(22u, client.DmaUnmap(RamBase, 0x1000, flags: 2).Error);
        Assert.Equal(2u, client.DmaUnmap(RamBase, 0x2000).Error); // ENOENT: already gone
        Assert.False(client.DmaMap(RamBase, 0x2000, ram.Fd.Number).IsError); // no overlap left
    }

    internal static void EnableBusMaster(VfioUserTestClient client) => client.WriteConfig16(4, 0x0006); // memory space + bus master

    internal static void WriteDmaBuffer(VfioUserTestClient client, byte[] data)
    {
        var reply = client.RegionWrite(0, TestNic.DmaBuffer, data);
        Assert.False(reply.IsError);
    }

    internal static bool RunDma(VfioUserTestClient client, ulong command, ulong address, int length)
    {
        client.WriteBar64(0, TestNic.DmaAddressRegister, address);
        client.WriteBar64(0, TestNic.DmaLengthRegister, (ulong)length);
        client.WriteBar64(0, TestNic.CommandRegister, command);
        return client.ReadBar64(0, TestNic.StatusRegister) == 1;
    }
}
