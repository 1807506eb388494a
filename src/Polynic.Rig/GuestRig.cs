using System.Collections.Concurrent;
using Polynic.Rig.Cache;
using Polynic.Rig.Guests;

namespace Polynic.Rig;

/// <summary>
/// The guest rig: prepares (once, cached) a Debian root with QEMU 10.1+ and a Linux kernel
/// plus an initramfs carrying NIC drivers, tools and a serial command agent, and boots
/// guests from it under TCG.
/// <example>
/// <code>
/// var rig = new GuestRig();
/// await using var guest = await rig.StartGuestAsync(new GuestOptions { VfioUserSockets = ["/tmp/nic.sock"] });
/// var result = await guest.RunAsync("ls /sys/class/net", TimeSpan.FromSeconds(10));
/// </code>
/// </example>
/// </summary>
public sealed class GuestRig
{
    // One preparation per cache entry per process, whoever asks; across processes the cache lock serialises.
    private static readonly ConcurrentDictionary<string, Lazy<Task<GuestImage>>> Preparations = new();

    /// <summary>Creates a rig with the given options (defaults: /var/cache/polynic or $POLYNIC_CACHE, trixie, QEMU from backports).</summary>
    public GuestRig(GuestRigOptions? options = null) => Options = options ?? new GuestRigOptions();

    /// <summary>The options this rig builds and boots with.</summary>
    public GuestRigOptions Options { get; }

    /// <summary>The cache directory in use.</summary>
    public string CacheDirectory => Options.ResolveCacheDirectory();

    /// <summary>
    /// Builds whatever the cache lacks (root: about 1-2 minutes; initramfs: seconds) and returns
    /// the image; returns at once when it is cached. Entries are built in a temporary directory and
    /// renamed into place when complete.
    /// </summary>
    /// <exception cref="RigPrerequisiteException">The host cannot build (not root, offline, no disk, ...): one sentence why.</exception>
    public Task<GuestImage> PrepareAsync(IProgress<string>? progress = null, CancellationToken cancellationToken = default)
        => new GuestCache(Options, progress).PrepareAsync(cancellationToken);

    /// <summary>
    /// Like <see cref="PrepareAsync"/>, but concurrent callers in this process share one preparation;
    /// a failed preparation is retried by the next caller. Meant for tests.
    /// </summary>
    public async Task<GuestImage> EnsurePreparedAsync(IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var cache = new GuestCache(Options, progress);
        if (cache.TryFind() is { } cached) return cached;
        var key = cache.Directory + "|" + CacheKey.ForRoot(Options);
        var lazy = Preparations.GetOrAdd(key, _ => new Lazy<Task<GuestImage>>(
            // Not the caller's token: one caller giving up must not cancel the others' shared build.
            () => Task.Run(() => cache.PrepareAsync(CancellationToken.None))));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            Preparations.TryRemove(new KeyValuePair<string, Lazy<Task<GuestImage>>>(key, lazy));
            throw;
        }
    }

    /// <summary>
    /// Prepares if needed, boots a guest and (unless <see cref="GuestOptions.WaitForReady"/> is off)
    /// waits for its agent. Dispose the guest to stop it.
    /// </summary>
    public async Task<Guest> StartGuestAsync(GuestOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GuestOptions();
        Hosting.HostPrerequisites.RequireRootAndTun();
        var image = await EnsurePreparedAsync(null, cancellationToken).ConfigureAwait(false);
        var guest = Guest.Start(image, options, Options.Logger);
        if (!options.WaitForReady) return guest;
        try
        {
            await guest.WaitReadyAsync(options.BootTimeout, cancellationToken).ConfigureAwait(false);
            return guest;
        }
        catch
        {
            await guest.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
