using Polynic.Transport.VfioUser.Server;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>
/// A session that polls for the next message before sleeping (<see cref="VfioUserServerOptions.BusyPoll"/>)
/// still answers every message in order, notices a client that leaves, and lets the server stop.
/// </summary>
public sealed class BusyPollTests
{
    private const uint ConfigRegion = 7;

    [Fact]
    public async Task A_busy_polling_session_answers_every_read_and_notices_a_client_that_leaves()
    {
        // A window far longer than the gaps between these reads, so the session answers from its spin.
        await using var fixture = await ServerFixture.StartAsync(new VfioUserServerOptions { BusyPoll = TimeSpan.FromMilliseconds(5) });
        var expected = new byte[4];
        fixture.Function.ReadConfig(0, expected);
        using (var client = fixture.Connect())
        {
            for (int i = 0; i < 2000; i++)
            {
                var reply = client.RegionRead(ConfigRegion, 0, 4);
                Assert.False(reply.IsError, $"read {i} failed with errno {reply.Error}");
                Assert.Equal(expected, reply.Payload.AsSpan(16, 4).ToArray());
            }
        }
        fixture.WaitForIdle();
        using var next = fixture.Connect();
        Assert.False(next.RegionRead(ConfigRegion, 0, 4).IsError);
    }

    [Fact]
    public async Task A_server_stops_promptly_while_its_session_spins()
    {
        var fixture = await ServerFixture.StartAsync(new VfioUserServerOptions { BusyPoll = TimeSpan.FromMilliseconds(1000) });
        using var client = fixture.Connect();
        Assert.False(client.RegionRead(ConfigRegion, 0, 4).IsError); // the session now spins for up to a second
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await fixture.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {clock.Elapsed}");
        Assert.False(fixture.Server.IsClientConnected);
    }
}
