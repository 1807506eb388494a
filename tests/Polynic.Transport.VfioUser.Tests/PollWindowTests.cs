using Polynic.Transport.VfioUser.Server;

namespace Polynic.Transport.VfioUser.Tests;

/// <summary>
/// The session's spin window follows the client's pace: it stops spinning for a client whose
/// messages come further apart than the configured window, spins the full window again for one
/// whose messages follow each other closely, and never leaves 0..configured.
/// </summary>
public sealed class PollWindowTests
{
    private const long Max = 50_000;

    [Fact]
    public void Messages_further_apart_than_the_window_stop_the_spinning()
    {
        var window = new PollWindow(Max);
        Assert.Equal(Max, window.Current);
        int spins = 0;
        for (int i = 0; i < 10 && window.Current > 0; i++, spins++) window.Record(caught: false, waitedTicks: 4 * Max);
        Assert.Equal(0, window.Current);
        Assert.True(spins <= 4, $"{spins} missed waits before the spinning stopped");
    }

    [Fact]
    public void Messages_close_together_bring_the_full_window_back()
    {
        var window = new PollWindow(Max);
        while (window.Current > 0) window.Record(caught: false, waitedTicks: 4 * Max);
        // A wait the full window would have caught, though the shrunk one did not.
        for (int i = 0; i < 5; i++) window.Record(caught: false, waitedTicks: Max / 2);
        Assert.Equal(Max, window.Current);
        window.Record(caught: true, waitedTicks: 0);
        Assert.Equal(Max, window.Current);
    }

    [Fact]
    public void The_window_stays_within_zero_and_the_configured_length_whatever_the_waits()
    {
        var random = new Random(13);
        var window = new PollWindow(Max);
        for (int i = 0; i < 100_000; i++)
        {
            window.Record(random.Next(4) == 0, random.NextInt64(-1, 3 * Max));
            Assert.InRange(window.Current, 0, Max);
        }
    }

    [Fact]
    public void A_zero_window_never_spins()
    {
        var window = new PollWindow(0);
        window.Record(caught: false, waitedTicks: 1);
        Assert.Equal(0, window.Current);
    }
}
