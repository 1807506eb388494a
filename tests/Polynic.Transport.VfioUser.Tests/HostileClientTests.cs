using System.Buffers.Binary;
using Polynic.Core.Memory;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>
/// Attacks a client can make on the server with nothing but the protocol and the descriptors it
/// passes. Each must cost at most the attacker's own device: the session keeps answering or is
/// disconnected, the server stops on request, and the process lives.
/// </summary>
[Collection(ProcessMappingBudget.Collection)]
public sealed class HostileClientTests
{
    private const ulong RamBase = 0x10_0000;
    private const uint DataEventfd = 4, ActionTrigger = 32;
    private const ulong EventFdMaximum = 0xFFFF_FFFF_FFFF_FFFE;

    [Theory]
    [InlineData(false)] // handed over blocking
    [InlineData(true)]  // handed over non-blocking, made blocking by the client afterwards
    public async Task A_full_blocking_interrupt_eventfd_does_not_wedge_the_session_or_its_shutdown(bool blockingLater)
    {
        var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        int flags = LibC.EFD_CLOEXEC | (blockingLater ? LibC.EFD_NONBLOCK : 0);
        using var intx = new FileDescriptor(LibC.eventfd(0, flags));
        DmaTests.EnableBusMaster(client);
        Assert.False(client.SetIrqs(0, 0, 1, DataEventfd | ActionTrigger, [intx.Number]).IsError);
        if (blockingLater) LibC.fcntl(intx, LibC.F_SETFL, LibC.fcntl(intx, LibC.F_GETFL, 0) & ~LibC.O_NONBLOCK);
        FillCounter(intx);

        // The device raises its line: the server's write to this eventfd cannot complete.
        client.WriteBar64(0, TestNic.CommandRegister, TestNic.CommandRaiseIntx);

        // The session still answers register reads and the device still does its work.
        for (int i = 0; i < 20; i++) Assert.Equal(1ul, client.ReadBar64(0, TestNic.StatusRegister));
        Assert.Equal(0x5678_1234u, client.ReadConfig32(0));

        // And the server stops when asked, with the write still stuck in the client's eventfd.
        await fixture.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Dma_maps_beyond_the_advertised_limit_are_refused_and_the_session_carries_on()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x1000);
        const int Limit = 1024; // the default max_dma_maps

        for (int i = 0; i < Limit; i++)
            Assert.False(client.DmaMap(RamBase + (ulong)i * 0x1000, 0x1000, ram.Fd.Number).IsError, $"map {i} refused");
        var refused = client.DmaMap(RamBase + Limit * 0x1000UL, 0x1000, ram.Fd.Number);

        Assert.True(refused.IsError);
        Assert.Equal((uint)Errno.ENOSPC, refused.Error);
        Assert.Equal(0x5678_1234u, client.ReadConfig32(0));
        Assert.False(client.DmaUnmap(0, 0, flags: 2).IsError);
        Assert.False(client.DmaMap(RamBase, 0x1000, ram.Fd.Number).IsError);
    }

    [Fact]
    public async Task Clients_together_cannot_exhaust_the_process_mapping_table()
    {
        // One client allowed every map the protocol permits, as many clients together would be.
        await using var fixture = await ServerFixture.StartAsync(new VfioUserServerOptions { MaxDmaMaps = 65535 });
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x1000);
        long before = CountProcessMappings();
        long budgetBefore = SharedMapping.ProcessBudget.Mappings; // the test's own view of the RAM is one

        const int Maps = 20_000;
        for (int i = 0; i < Maps; i++)
            Assert.False(client.DmaMap(RamBase + (ulong)i * 0x1000, 0x1000, ram.Fd.Number).IsError, $"map {i} refused");

        // Past the process's budget the windows are served through DMA messages, not mmap.
        long added = CountProcessMappings() - before;
        long maxMapCount = long.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim());
        Assert.InRange(added, 1, maxMapCount / 4 + 64);
        Assert.True(SharedMapping.ProcessBudget.Mappings < Maps);

        // The last window still works, through messages the client answers.
        ulong last = RamBase + (Maps - 1) * 0x1000UL;
        var memory = new byte[0x1000];
        memory.AsSpan(0x10, 8).Fill(0x5A);
        client.MessageMemory[last] = memory;
        DmaTests.EnableBusMaster(client);
        Assert.True(DmaTests.RunDma(client, TestNic.CommandDmaFromGuest, last + 0x10, 8));
        Assert.Equal(0x5A5A_5A5A_5A5A_5A5Aul, client.ReadBar64(0, TestNic.DmaBuffer));

        Assert.False(client.DmaUnmap(0, 0, flags: 2).IsError);
        Assert.Equal(budgetBefore, SharedMapping.ProcessBudget.Mappings);
    }

    [Fact]
    public async Task Memory_the_client_can_shrink_is_reached_through_messages_so_shrinking_it_cannot_crash_the_server()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x10000, sealSize: false);
        Assert.False(client.DmaMap(RamBase, (ulong)ram.Size, ram.Fd.Number).IsError);
        DmaTests.EnableBusMaster(client);

        // The attack: shrink the file under the server, then make the device touch it.
        FileDescriptor.Check(LibC.ftruncate(ram.Fd, 0), "ftruncate");
        var memory = new byte[0x10000];
        client.MessageMemory[RamBase] = memory;
        DmaTests.WriteDmaBuffer(client, [1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.True(DmaTests.RunDma(client, TestNic.CommandDmaToGuest, RamBase + 0x2000, 8));

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, memory.AsSpan(0x2000, 8).ToArray());
        Assert.Equal(1, client.ServerRequests);
    }

    [Fact]
    public async Task Sealed_memfd_memory_is_mapped_and_needs_no_messages()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var ram = new GuestRam(0x10000);
        Assert.False(client.DmaMap(RamBase, (ulong)ram.Size, ram.Fd.Number).IsError);
        DmaTests.EnableBusMaster(client);

        DmaTests.WriteDmaBuffer(client, [9, 8, 7, 6]);
        Assert.True(DmaTests.RunDma(client, TestNic.CommandDmaToGuest, RamBase + 0x100, 4));

        Assert.Equal(new byte[] { 9, 8, 7, 6 }, ram.Bytes.Slice(0x100, 4).ToArray());
        Assert.Equal(0, client.ServerRequests);
    }

    [Fact]
    public async Task Descriptors_of_the_wrong_kind_for_dma_map_get_an_error_and_cost_nothing()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var eventFd = EventFd.Create();
        using var devNull = new FileDescriptor(LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC));
        using var readOnly = new FileDescriptor(LibC.open("/proc/self/status", LibC.O_CLOEXEC));
        using var ram = new GuestRam(0x1000);

        // Sealed memfd memory beyond the file's end is refused: touching it would raise SIGBUS.
        Assert.True(client.DmaMap(RamBase, 0x2000, ram.Fd.Number).IsError);
        Assert.True(client.DmaMap(RamBase, 0x1000, ram.Fd.Number, fileOffset: 0x1000).IsError);
        // Descriptors that are no memfd are not mapped; their windows are message-based.
        foreach (var fd in new[] { eventFd, devNull, readOnly, client.RawSocket })
        {
            Assert.False(client.DmaMap(RamBase, 0x1000, fd.Number).IsError);
            Assert.False(client.DmaUnmap(RamBase, 0x1000).IsError);
        }
        Assert.Equal(0x5678_1234u, client.ReadConfig32(0));
    }

    [Fact]
    public async Task Message_dma_under_the_device_lock_is_answered_while_the_reader_waits_for_that_lock()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var memory = new byte[0x1000];
        memory.AsSpan(0x40, 4).Fill(0x77);
        client.MessageMemory[0xE0000] = memory;
        Assert.False(client.DmaMap(0xE0000, 0x1000).IsError);
        DmaTests.EnableBusMaster(client);

        // A device thread (a port delivering a frame) holds the device lock while it reads
        // guest memory that the client shares without a descriptor.
        using var holding = new ManualResetEventSlim();
        var deviceThread = Task.Factory.StartNew(() =>
        {
            lock (fixture.Device.Sync)
            {
                holding.Set();
                var buffer = new byte[4];
                bool ok = fixture.Device.Context.Dma.TryRead(new GuestAddress(0xE0040), buffer);
                return (ok, buffer);
            }
        }, TaskCreationOptions.LongRunning);
        Assert.True(holding.Wait(5000));

        // The guest reads a register meanwhile: the session's reader takes that read first and
        // waits for the lock; the client answers the DMA_READ while it waits for its own reply.
        client.ReadBar64(0, TestNic.StatusRegister);

        var (ok, buffer) = await deviceThread;
        Assert.True(ok, "the device's DMA_READ got no reply: nobody read it while the reader waited for the lock");
        Assert.Equal(new byte[] { 0x77, 0x77, 0x77, 0x77 }, buffer);
    }

    [Fact]
    public async Task A_client_that_leaves_dma_requests_unanswered_is_disconnected_and_later_dma_fails_at_once()
    {
        await using var fixture = await ServerFixture.StartAsync(new VfioUserServerOptions { ServerRequestTimeout = TimeSpan.FromMilliseconds(300) });
        using var client = fixture.Connect();
        Assert.False(client.DmaMap(0xE0000, 0x1000).IsError);
        DmaTests.EnableBusMaster(client);
        var memory = fixture.Device.Context.Dma;

        // The client never reads its socket, so the DMA_READ goes unanswered.
        var buffer = new byte[4];
        Assert.False(await Task.Run(() => memory.TryRead(new GuestAddress(0xE0000), buffer)).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(client.WaitForDisconnect(), "the client was not disconnected");
        var started = Environment.TickCount64;
        Assert.False(memory.TryRead(new GuestAddress(0xE0000), buffer));
        Assert.InRange(Environment.TickCount64 - started, 0, 250);
    }

    [Fact]
    public async Task A_client_that_connects_and_never_negotiates_loses_the_slot_to_the_next_client()
    {
        await using var fixture = await ServerFixture.StartAsync(new VfioUserServerOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var silent = new VfioUserTestClient(fixture.SocketPath);

        Assert.True(silent.WaitForDisconnect(5000), "the silent client kept the device's only slot");
        using var next = fixture.Connect();
        Assert.Equal(0x5678_1234u, next.ReadConfig32(0));
    }

    [Fact]
    public async Task A_message_that_stops_half_way_costs_the_client_its_connection()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var header = new byte[16];
        new MessageHeader(1, Command.RegionRead, 32, MessageFlags.Command, 0).Write(header);
        client.SendRaw(header); // 16 of 32 bytes, then nothing

        Assert.True(client.WaitForDisconnect(10_000));
        fixture.WaitForIdle();
        using var next = fixture.Connect();
        Assert.Equal(0x5678_1234u, next.ReadConfig32(0));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task The_socket_is_for_its_owner_only_whatever_the_umask()
    {
        await using var fixture = await ServerFixture.StartAsync();

        var mode = File.GetUnixFileMode(fixture.SocketPath);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public async Task Refused_commands_are_logged_at_a_bounded_rate()
    {
        var logs = new CountingLoggerFactory();
        await using var fixture = await ServerFixture.StartAsync(loggerFactory: logs);
        using var client = fixture.Connect();

        for (int i = 0; i < 2000; i++) Assert.True(client.RegionRead(9, 0, 4).IsError);

        Assert.InRange(logs.Count("failed with"), 1, RefusalLog.Burst + 2 * RefusalLog.PerSecond * 10);
        Assert.Equal(0x5678_1234u, client.ReadConfig32(0));
    }

    private static unsafe void FillCounter(FileDescriptor eventFd)
    {
        ulong value = EventFdMaximum;
        Assert.Equal(8, (int)LibC.write(eventFd.Number, &value, sizeof(ulong)));
    }

    private static long CountProcessMappings() => File.ReadLines("/proc/self/maps").LongCount();
}

/// <summary>Tests that use many of the process's memory mappings run alone.</summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class ProcessMappingBudget
{
    public const string Collection = "process mapping budget";
}
