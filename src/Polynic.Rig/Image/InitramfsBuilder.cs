using System.IO.Compression;
using System.Text;
using Polynic.Rig.Hosting;

namespace Polynic.Rig.Image;

/// <summary>What went into an initramfs, kept beside it for a person debugging the guest.</summary>
internal sealed record InitramfsReport(
    IReadOnlyList<string> ModulesLoaded, IReadOnlyList<string> ModulesBuiltIn, IReadOnlyList<string> ModulesMissing,
    IReadOnlyList<string> Tools, int Entries, long CompressedBytes);

/// <summary>
/// Assembles the guest's initramfs from the recipe: the agent as /init, busybox with its
/// applet links, the recipe's tools with their shared libraries (from ldd inside the root),
/// and the kernel modules decompressed and listed in load order.
/// </summary>
internal sealed class InitramfsBuilder(string root, string kernelRelease, GuestImageRecipe recipe, byte[] initScript, byte[] agentScript)
{
    private const int Executable = 0x1ED;
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);

    public async Task<InitramfsReport> BuildAsync(string outputPath, CancellationToken cancellationToken)
    {
        var contents = new InitramfsContents();
        foreach (var directory in new[] { "/proc", "/sys", "/dev", "/run", "/root", "/etc", "/mnt", "/var" })
            contents.Directory(directory);
        contents.Directory("/tmp", 0x3FF);
        // The kernel opens /dev/console for init before init can mount devtmpfs.
        contents.CharDevice("/dev/console", 5, 1);
        contents.CharDevice("/dev/null", 1, 3);
        contents.File("/etc/hosts", "127.0.0.1 localhost polynic-guest\n"u8.ToArray());
        contents.File("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"u8.ToArray());
        contents.File("/etc/group", "root:x:0:\n"u8.ToArray());

        await AddBusyboxAsync(contents, cancellationToken).ConfigureAwait(false);
        var tools = new List<string>();
        foreach (var tool in recipe.Tools)
            tools.Add(await AddToolAsync(contents, tool, cancellationToken).ConfigureAwait(false));
        foreach (var file in recipe.Files)
        {
            var host = RootPath.Resolve(root, file.Path);
            if (System.IO.File.Exists(host)) contents.File(file.Path, await System.IO.File.ReadAllBytesAsync(host, cancellationToken).ConfigureAwait(false));
            else if (!file.Optional) throw new RigException($"guest-image.json names {file.Path}, which the root lacks.");
        }

        var plan = KernelModuleSet.Load(RootPath.Resolve(root, $"/lib/modules/{kernelRelease}")).Plan(recipe.Modules);
        foreach (var module in plan.LoadOrder)
            contents.File($"/lib/modules/polynic/{module.Name}.ko", await DecompressModuleAsync(module, cancellationToken).ConfigureAwait(false));
        contents.File("/etc/polynic/modules", Encoding.ASCII.GetBytes(string.Concat(plan.LoadOrder.Select(m => m.Name + "\n"))));
        contents.File("/etc/polynic/agent.sh", agentScript, Executable);
        contents.File("/init", initScript, Executable);

        await using (var file = System.IO.File.Create(outputPath))
        await using (var gzip = new GZipStream(file, CompressionLevel.Optimal))
        await using (var buffered = new BufferedStream(gzip, 1 << 20))
        {
            contents.WriteTo(buffered);
        }
        return new InitramfsReport(plan.LoadOrder.Select(m => m.Name).ToList(), plan.BuiltIn, plan.Missing, tools,
            contents.Count, new FileInfo(outputPath).Length);
    }

    private async Task AddBusyboxAsync(InitramfsContents contents, CancellationToken cancellationToken)
    {
        var binary = RootPath.Resolve(root, recipe.Busybox);
        if (!System.IO.File.Exists(binary)) throw new RigException($"busybox is not at {recipe.Busybox} in the root; is busybox-static installed?");
        contents.File("/bin/busybox", await System.IO.File.ReadAllBytesAsync(binary, cancellationToken).ConfigureAwait(false), Executable);
        var list = await HostProcess.RunCheckedAsync("busybox --list-full", "chroot", [root, recipe.Busybox, "--list-full"],
            ToolTimeout, cancellationToken).ConfigureAwait(false);
        foreach (var applet in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if ("/" + applet != "/bin/busybox") contents.Symlink("/" + applet, "/bin/busybox");
    }

    private async Task<string> AddToolAsync(InitramfsContents contents, string tool, CancellationToken cancellationToken)
    {
        var host = RootPath.Resolve(root, tool);
        if (!System.IO.File.Exists(host)) throw new RigException($"guest-image.json names the tool {tool}, which the root lacks.");
        contents.File(tool, await System.IO.File.ReadAllBytesAsync(host, cancellationToken).ConfigureAwait(false), Executable);
        var ldd = await HostProcess.RunAsync("chroot", [root, "ldd", tool], ToolTimeout, cancellationToken).ConfigureAwait(false);
        foreach (var library in LddOutput.LibraryPaths(ldd.StandardOutput))
        {
            if (contents.Contains(library)) continue;
            var libraryHost = RootPath.Resolve(root, library);
            contents.File(library, await System.IO.File.ReadAllBytesAsync(libraryHost, cancellationToken).ConfigureAwait(false), Executable);
        }
        return tool;
    }

    private async Task<byte[]> DecompressModuleAsync(KernelModuleFile module, CancellationToken cancellationToken)
    {
        var pathInRoot = $"/lib/modules/{kernelRelease}/{module.RelativePath}";
        var extension = Path.GetExtension(module.RelativePath);
        if (extension == ".ko") return await System.IO.File.ReadAllBytesAsync(RootPath.Resolve(root, pathInRoot), cancellationToken).ConfigureAwait(false);
        // Busybox insmod cannot load compressed modules on every kernel; the root's own xz/zstd unpack them.
        var tool = extension switch
        {
            ".xz" => "xz",
            ".zst" => "zstd",
            ".gz" => "gzip",
            _ => throw new RigException($"Unknown module compression {extension} for {module.RelativePath}."),
        };
        using var sink = new MemoryStream();
        var outcome = await HostProcess.RunAsync("chroot", [root, tool, "-dc", pathInRoot], ToolTimeout, cancellationToken,
            standardOutputSink: sink).ConfigureAwait(false);
        if (outcome.ExitCode != 0 || sink.Length == 0)
            throw new RigException($"Cannot decompress {pathInRoot} with {tool}: {outcome.Tail(3)}");
        return sink.ToArray();
    }
}

/// <summary>Reads the library paths out of ldd's report.</summary>
internal static class LddOutput
{
    /// <summary>"libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)" give their paths; the vdso has none.</summary>
    public static IEnumerable<string> LibraryPaths(string lddOutput)
    {
        foreach (var rawLine in lddOutput.Split('\n'))
        {
            var line = rawLine.Trim();
            var arrow = line.IndexOf("=>", StringComparison.Ordinal);
            var path = (arrow >= 0 ? line[(arrow + 2)..] : line).Trim().Split(' ')[0];
            if (path.StartsWith('/')) yield return path;
        }
    }
}
