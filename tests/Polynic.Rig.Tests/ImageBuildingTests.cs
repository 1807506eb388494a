using System.Text;
using Polynic.Rig.Cache;
using Polynic.Rig.Image;

namespace Polynic.Rig.Tests;

/// <summary>The pieces that assemble the initramfs, without a root.</summary>
public sealed class ImageBuildingTests
{
    [Fact]
    public void Modules_load_after_their_dependencies_and_unknown_or_builtin_ones_are_skipped()
    {
        var set = new KernelModuleSet(
            [
                "kernel/drivers/net/ethernet/realtek/8139too.ko.xz: kernel/drivers/net/mii.ko.xz",
                "kernel/drivers/net/mii.ko.xz:",
                "kernel/net/8021q/8021q.ko.xz: kernel/net/802/garp.ko.xz kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz",
                "kernel/net/802/garp.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz",
                "kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz",
                "kernel/net/llc/llc.ko.xz:",
                "kernel/drivers/net/ethernet/8390/ne2k-pci.ko.xz: kernel/drivers/net/ethernet/8390/8390.ko.xz",
                "kernel/drivers/net/ethernet/8390/8390.ko.xz:",
            ],
            ["kernel/net/packet/af_packet.ko"]);

        var plan = set.Plan(["8139too", "8021q", "ne2k-pci", "af_packet", "no_such_nic"]);

        Assert.Equal(["mii", "8139too", "llc", "stp", "garp", "8021q", "8390", "ne2k_pci"], plan.LoadOrder.Select(m => m.Name));
        Assert.Equal(["af_packet"], plan.BuiltIn);
        Assert.Equal(["no_such_nic"], plan.Missing);
    }

    [Fact]
    public void Cpio_newc_entries_are_aligned_and_end_with_a_trailer()
    {
        var contents = new InitramfsContents();
        contents.File("/etc/polynic/modules", "e1000\n"u8.ToArray());
        contents.Symlink("/bin/sh", "/bin/busybox");
        contents.CharDevice("/dev/console", 5, 1);
        using var stream = new MemoryStream();

        contents.WriteTo(stream);

        var text = Encoding.ASCII.GetString(stream.ToArray());
        Assert.Equal(0, stream.Length % 4);
        Assert.StartsWith("070701", text);
        Assert.Contains("etc/polynic\0", text);
        Assert.Contains("etc/polynic/modules\0", text);
        Assert.Contains("TRAILER!!!\0", text);
        // Directories are written before their contents.
        Assert.True(text.IndexOf("etc/polynic\0", StringComparison.Ordinal) < text.IndexOf("etc/polynic/modules\0", StringComparison.Ordinal));
    }

    [Fact]
    public void Qemu_version_is_read_from_its_banner()
    {
        Assert.Equal(new Version(11, 1, 3), QemuVersionCheck.Parse("QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1~bpo13+1)\nCopyright"));
        Assert.Equal(new Version(7, 2, 0), QemuVersionCheck.Parse("QEMU emulator version 7.2"));
        Assert.Null(QemuVersionCheck.Parse("bash: qemu: not found"));
    }

    [Fact]
    public void Ldd_report_yields_library_paths_but_not_the_vdso()
    {
        var paths = LddOutput.LibraryPaths("""
                linux-vdso.so.1 (0x00007ff49f705000)
                libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007ff49f4cc000)
                /lib64/ld-linux-x86-64.so.2 (0x00007ff49f707000)
            """);

        Assert.Equal(["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"], paths);
    }

    [Fact]
    public void Absolute_symlinks_resolve_inside_the_root_not_on_the_host()
    {
        var root = Directory.CreateTempSubdirectory("polynic-rootpath-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "usr/lib/x86_64-linux-gnu"));
            File.WriteAllText(Path.Combine(root, "usr/lib/x86_64-linux-gnu/ld.so"), "loader");
            File.CreateSymbolicLink(Path.Combine(root, "lib"), "usr/lib");
            Directory.CreateDirectory(Path.Combine(root, "usr/lib64"));
            File.CreateSymbolicLink(Path.Combine(root, "lib64"), "usr/lib64");
            File.CreateSymbolicLink(Path.Combine(root, "usr/lib64/ld-linux.so.2"), "/lib/x86_64-linux-gnu/ld.so");

            var resolved = RootPath.Resolve(root, "/lib64/ld-linux.so.2");

            Assert.Equal(Path.Combine(root, "usr/lib/x86_64-linux-gnu/ld.so"), resolved);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Image_key_changes_with_any_input_but_root_key_only_with_root_inputs()
    {
        var options = new GuestRigOptions();
        var root = CacheKey.ForRoot(options);

        Assert.Equal(root, CacheKey.ForRoot(new GuestRigOptions()));
        Assert.NotEqual(root, CacheKey.ForRoot(options with { Kernel = new KernelSource("linux-image-amd64", "bookworm") }));
        Assert.NotEqual(CacheKey.ForImage(root, ["a"u8.ToArray()]), CacheKey.ForImage(root, ["b"u8.ToArray()]));
        Assert.Equal(CacheKey.ForImage(root, ["a"u8.ToArray()]), CacheKey.ForImage(root, ["a"u8.ToArray()]));
    }
}
