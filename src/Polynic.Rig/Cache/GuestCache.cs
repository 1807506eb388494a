using System.Diagnostics;
using System.Text.Json;
using Polynic.Rig.Hosting;
using Polynic.Rig.Image;

namespace Polynic.Rig.Cache;

/// <summary>What a finished image holds; written last inside the entry.</summary>
internal sealed record ImageManifest(string Key, string RootKey, string KernelRelease, InitramfsReport Initramfs, DateTimeOffset Built);

/// <summary>
/// The on-disk cache:
/// <code>
/// CACHE/.lock                       cross-process build lock
/// CACHE/roots/ROOTKEY/root.json     root manifest (QEMU version, kernel release)
/// CACHE/roots/ROOTKEY/root/         Debian root with QEMU, kernel, tools
/// CACHE/images/IMAGEKEY/image.json  what went into the initramfs
/// CACHE/images/IMAGEKEY/vmlinuz, initramfs.cpio.gz
/// CACHE/tmp/                        entries being built; renamed into place when complete
/// </code>
/// An entry directory exists only when complete (rename is atomic), so a crash mid-build
/// leaves only tmp/ debris, which the next build under the lock deletes.
/// </summary>
internal sealed class GuestCache(GuestRigOptions options, IProgress<string>? progress)
{
    private readonly string directory = options.ResolveCacheDirectory();

    public string Directory => directory;

    /// <summary>The prepared image if the cache already holds it; no lock, no network.</summary>
    public GuestImage? TryFind()
    {
        var (rootKey, imageKey, _) = Keys();
        return TryLoad(rootKey, imageKey);
    }

    public async Task<GuestImage> PrepareAsync(CancellationToken cancellationToken)
    {
        HostPrerequisites.RequireRootAndTun();
        var (rootKey, imageKey, inputs) = Keys();
        if (TryLoad(rootKey, imageKey) is { } ready)
        {
            progress?.Report($"Guest image is cached: {ready.ImageDirectory} (QEMU {ready.QemuVersion}, kernel {ready.KernelRelease}).");
            return ready;
        }

        using var cacheLock = await CacheLock.AcquireAsync(directory, progress, cancellationToken).ConfigureAwait(false);
        if (TryLoad(rootKey, imageKey) is { } builtMeanwhile) return builtMeanwhile;
        var scratch = Path.Combine(directory, "tmp");
        // We hold the lock, so whatever is in tmp/ is debris of a crashed build.
        MountGuard.DeleteTree(scratch);
        System.IO.Directory.CreateDirectory(scratch);

        var rootEntry = Path.Combine(directory, "roots", rootKey);
        if (!File.Exists(Path.Combine(rootEntry, RootBuilder.ManifestFile)))
        {
            HostPrerequisites.RequireFreeSpace(directory, options.RequiredFreeBytes);
            await HostPrerequisites.RequireMirrorAsync(options.Mirror, cancellationToken).ConfigureAwait(false);
            await HostPrerequisites.RequireDebootstrapAsync(progress, cancellationToken).ConfigureAwait(false);
            var building = Path.Combine(scratch, "root-" + rootKey);
            await new RootBuilder(options, progress).BuildAsync(rootKey, building, cancellationToken).ConfigureAwait(false);
            Publish(building, rootEntry);
        }

        var rootManifest = ReadJson<RootManifest>(Path.Combine(rootEntry, RootBuilder.ManifestFile));
        var imageEntry = Path.Combine(directory, "images", imageKey);
        if (!File.Exists(Path.Combine(imageEntry, "image.json")))
        {
            var building = Path.Combine(scratch, "image-" + imageKey);
            await BuildImageAsync(rootKey, imageKey, rootManifest, Path.Combine(rootEntry, RootBuilder.RootDirectory), inputs, building, cancellationToken)
                .ConfigureAwait(false);
            Publish(building, imageEntry);
        }
        MountGuard.DeleteTree(scratch);
        return TryLoad(rootKey, imageKey) ?? throw new RigException($"The guest cache in {directory} is incomplete right after building it.");
    }

    private async Task BuildImageAsync(string rootKey, string imageKey, RootManifest rootManifest, string root,
        RecipeInputs inputs, string building, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        progress?.Report($"Assembling the guest initramfs for kernel {rootManifest.KernelRelease} ...");
        System.IO.Directory.CreateDirectory(building);
        var recipe = GuestImageRecipe.Parse(inputs.Recipe);
        var report = await new InitramfsBuilder(root, rootManifest.KernelRelease, recipe, inputs.Init, inputs.Agent)
            .BuildAsync(Path.Combine(building, "initramfs.cpio.gz"), cancellationToken).ConfigureAwait(false);
        File.Copy(RootPath.Resolve(root, $"/boot/vmlinuz-{rootManifest.KernelRelease}"), Path.Combine(building, "vmlinuz"));
        var manifest = new ImageManifest(imageKey, rootKey, rootManifest.KernelRelease, report, DateTimeOffset.UtcNow);
        await File.WriteAllTextAsync(Path.Combine(building, "image.json"), JsonSerializer.Serialize(manifest, RigJson.Default.ImageManifest), cancellationToken)
            .ConfigureAwait(false);
        var skipped = report.ModulesMissing.Count > 0 ? $"; not in this kernel: {string.Join(", ", report.ModulesMissing)}" : "";
        progress?.Report($"Initramfs ready in {clock.Elapsed.TotalSeconds:0.0} s: {report.ModulesLoaded.Count} modules, " +
                         $"{report.ModulesBuiltIn.Count} built in, {report.CompressedBytes >> 10} KiB{skipped}.");
    }

    private static void Publish(string building, string entry)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(entry)!);
        // An incomplete entry cannot exist (it would have a manifest), but an old partial copy from a different rig version might.
        if (System.IO.Directory.Exists(entry)) MountGuard.DeleteTree(entry);
        System.IO.Directory.Move(building, entry);
    }

    private GuestImage? TryLoad(string rootKey, string imageKey)
    {
        var rootEntry = Path.Combine(directory, "roots", rootKey);
        var imageEntry = Path.Combine(directory, "images", imageKey);
        var rootManifestPath = Path.Combine(rootEntry, RootBuilder.ManifestFile);
        var imageManifestPath = Path.Combine(imageEntry, "image.json");
        if (!File.Exists(rootManifestPath) || !File.Exists(imageManifestPath)) return null;
        var rootManifest = ReadJson<RootManifest>(rootManifestPath);
        return new GuestImage(directory, Path.Combine(rootEntry, RootBuilder.RootDirectory), imageEntry,
            Path.Combine(imageEntry, "vmlinuz"), Path.Combine(imageEntry, "initramfs.cpio.gz"),
            rootManifest.QemuVersion, rootManifest.KernelRelease);
    }

    private sealed record RecipeInputs(byte[] Recipe, byte[] Init, byte[] Agent);

    private (string RootKey, string ImageKey, RecipeInputs Inputs) Keys()
    {
        var inputs = new RecipeInputs(
            GuestImageRecipe.ReadResource(GuestImageRecipe.ResourceName),
            GuestImageRecipe.ReadResource("Polynic.Rig.Agent.init.sh"),
            GuestImageRecipe.ReadResource("Polynic.Rig.Agent.agent.sh"));
        var rootKey = CacheKey.ForRoot(options);
        return (rootKey, CacheKey.ForImage(rootKey, [inputs.Recipe, inputs.Init, inputs.Agent]), inputs);
    }

    private static T ReadJson<T>(string path)
        => (T?)JsonSerializer.Deserialize(File.ReadAllText(path), typeof(T), RigJson.Default)
           ?? throw new RigException($"{path} is empty; delete that cache entry.");
}
