using Polynic.Rig;

namespace Polynic.EndToEnd.Tests;

/// <summary>
/// The guest rig, prepared once per test run (on demand: a cold cache builds it, a warm one
/// is reused in seconds). Guests are booted by the tests themselves.
/// </summary>
public sealed class RigFixture : IAsyncLifetime
{
    public GuestRig Rig { get; } = new();

    public Task InitializeAsync() => Rig.EnsurePreparedAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class RealGuests : ICollectionFixture<RigFixture>
{
    public const string Name = "real guests";
}
