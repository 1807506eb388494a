using Polynic.Native;

namespace Polynic.Transport.VfioUser.Tests;

public sealed class InterruptTests
{
    private const uint DataNone = 1, DataBool = 2, DataEventfd = 4, ActionMask = 8, ActionUnmask = 16, ActionTrigger = 32;

    [Fact]
    public async Task Intx_is_signalled_then_automasked_and_resignalled_on_unmask_while_asserted()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var intx = EventFd.Create();
        DmaTests.EnableBusMaster(client);
        Assert.False(client.SetIrqs(0, 0, 1, DataEventfd | ActionTrigger, [intx.Number]).IsError);

        Command(client, TestNic.CommandRaiseIntx);
        Assert.Equal(1ul, Signals(intx));

        // Masked after the signal: a new edge of the device's line is not signalled.
        Command(client, TestNic.CommandLowerIntx);
        Command(client, TestNic.CommandRaiseIntx);
        Assert.Equal(0ul, Signals(intx));

        // Unmask with the pin still asserted: signalled again (and masked again).
        Assert.False(client.SetIrqs(0, 0, 1, DataNone | ActionUnmask).IsError);
        Assert.Equal(1ul, Signals(intx));
        Assert.False(client.SetIrqs(0, 0, 1, DataNone | ActionUnmask).IsError);
        Assert.Equal(1ul, Signals(intx));

        // Deasserted: unmasking signals nothing; the next assertion does.
        Command(client, TestNic.CommandLowerIntx);
        Assert.False(client.SetIrqs(0, 0, 1, DataNone | ActionUnmask).IsError);
        Assert.Equal(0ul, Signals(intx));
        Command(client, TestNic.CommandRaiseIntx);
        Assert.Equal(1ul, Signals(intx));

        // Explicit mask holds the line back; bool-data unmask releases it.
        Command(client, TestNic.CommandLowerIntx);
        Assert.False(client.SetIrqs(0, 0, 1, DataNone | ActionUnmask).IsError);
        Assert.False(client.SetIrqs(0, 0, 1, DataNone | ActionMask).IsError);
        Command(client, TestNic.CommandRaiseIntx);
        Assert.Equal(0ul, Signals(intx));
        Assert.False(client.SetIrqs(0, 0, 1, DataBool | ActionUnmask, data: [1]).IsError);
        Assert.Equal(1ul, Signals(intx));
    }

    [Fact]
    public async Task Intx_teardown_with_count_0_stops_signalling()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        using var intx = EventFd.Create();
        DmaTests.EnableBusMaster(client);
        Assert.False(client.SetIrqs(0, 0, 1, DataEventfd | ActionTrigger, [intx.Number]).IsError);
        Assert.False(client.SetIrqs(0, 0, 0, DataNone | ActionTrigger).IsError);

        Command(client, TestNic.CommandRaiseIntx);

        Assert.Equal(0ul, Signals(intx));
    }

    [Fact]
    public async Task Msix_vector_eventfd_is_signalled()
    {
        await using var fixture = await ServerFixture.StartAsync();
        using var client = fixture.Connect();
        var vectors = Enumerable.Range(0, 4).Select(_ => EventFd.Create()).ToArray();
        try
        {
            DmaTests.EnableBusMaster(client);
            // QEMU's order: eventfds first, then MSI-X Enable in the capability's control word.
            Assert.False(client.SetIrqs(2, 0, 4, DataEventfd | ActionTrigger, vectors.Select(v => v.Number).ToArray()).IsError);
            EnableMsix(client);

            client.WriteBar64(0, TestNic.VectorRegister, 2);
            Command(client, TestNic.CommandNotify);

            Assert.Equal(new ulong[] { 0, 0, 1, 0 }, vectors.Select(Signals).ToArray());

            // fd -1 (no descriptors) de-assigns one vector.
            Assert.False(client.SetIrqs(2, 2, 1, DataEventfd | ActionTrigger).IsError);
            Command(client, TestNic.CommandNotify);
            Assert.Equal(0ul, Signals(vectors[2]));

            // The client may trigger a vector itself.
            Assert.False(client.SetIrqs(2, 1, 1, DataNone | ActionTrigger).IsError);
            Assert.Equal(1ul, Signals(vectors[1]));
        }
        finally
        {
            foreach (var v in vectors) v.Dispose();
        }
    }

    internal static void EnableMsix(VfioUserTestClient client)
    {
        int capability = (int)(client.ReadConfig32(0x34) & 0xFF);
        for (int guard = 0; capability != 0 && guard < 48; guard++)
        {
            uint dword = client.ReadConfig32(capability);
            if ((dword & 0xFF) == 0x11)
            {
                client.WriteConfig16(capability + 2, 0x8000);
                return;
            }
            capability = (int)((dword >> 8) & 0xFF);
        }
        Assert.Fail("no MSI-X capability in config space");
    }

    /// <summary>
    /// The eventfd's count once the server's signalling thread has written it: interrupts leave
    /// the device on a thread of their own, a little after the command that raised them.
    /// </summary>
    internal static ulong Signals(FileDescriptor eventFd)
    {
        Poll.WaitReadable(eventFd, null, 250);
        return EventFd.Drain(eventFd);
    }

    private static void Command(VfioUserTestClient client, ulong command) => client.WriteBar64(0, TestNic.CommandRegister, command);
}
