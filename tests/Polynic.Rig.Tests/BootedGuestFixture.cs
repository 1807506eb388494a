using Polynic.Rig.Guests;

namespace Polynic.Rig.Tests;

/// <summary>One plain guest (no extra devices) shared by the tests of a class: a boot costs ~10-20 s under TCG.</summary>
public sealed class BootedGuestFixture : IAsyncLifetime
{
    public const int Cpus = 2;

    public Guest Guest { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var rig = new GuestRig();
        await rig.EnsurePreparedAsync(new ConsoleProgress());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Guest = await rig.StartGuestAsync(new GuestOptions { Name = "plain", Cpus = Cpus });
        Console.WriteLine($"plain guest ready after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    public async Task DisposeAsync()
    {
        if (Guest is not null) await Guest.DisposeAsync();
    }

    private sealed class ConsoleProgress : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine(value);
    }
}
