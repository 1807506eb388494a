using System.Text.Json;
using Polynic.Rig.Guests;

namespace Polynic.Rig.Tests;

/// <summary>How a guest is launched, and what happens when QEMU refuses to start.</summary>
public sealed class QemuLaunchTests
{
    private static readonly GuestImage Image = new("/cache", "/cache/roots/r/root", "/cache/images/i",
        "/cache/images/i/vmlinuz", "/cache/images/i/initramfs.cpio.gz", "11.1.3", "6.12.0");

    [Fact]
    public void Vfio_user_sockets_become_json_devices_and_the_accelerator_is_tcg()
    {
        var arguments = QemuCommandLine.QemuArguments(Image,
            new GuestOptions { VfioUserSockets = ["/tmp/nic0.sock"], Machine = "q35", MemoryMiB = 256 }, "/tmp/w/qmp.sock");

        Assert.Equal("tcg", arguments[arguments.ToList().IndexOf("-accel") + 1]);
        Assert.Contains("q35,memory-backend=mem", arguments);
        Assert.Contains("memory-backend-memfd,id=mem,size=256M,share=on", arguments);
        Assert.Contains("unix:/tmp/w/qmp.sock,server=on,wait=off", arguments);
        var device = JsonDocument.Parse(arguments[arguments.ToList().IndexOf("-device") + 1]).RootElement;
        Assert.Equal("vfio-user-pci", device.GetProperty("driver").GetString());
        Assert.Equal("/tmp/nic0.sock", device.GetProperty("socket").GetProperty("path").GetString());
        Assert.Equal("unix", device.GetProperty("socket").GetProperty("type").GetString());
    }

    [Fact]
    public void A_network_boot_gives_the_first_device_the_option_rom_and_boots_no_kernel()
    {
        var arguments = QemuCommandLine.QemuArguments(Image, new GuestOptions
        {
            VfioUserSockets = ["/tmp/nic0.sock", "/tmp/nic1.sock"],
            NetworkBootRom = "/usr/share/qemu/pxe-e1000.rom",
        }, null).ToList();

        Assert.DoesNotContain("-kernel", arguments);
        Assert.DoesNotContain("-initrd", arguments);
        Assert.Contains("-nographic", arguments);
        var devices = arguments.Select((a, i) => (a, i)).Where(x => x.a == "-device")
            .Select(x => JsonDocument.Parse(arguments[x.i + 1]).RootElement).ToList();
        Assert.Equal("/usr/share/qemu/pxe-e1000.rom", devices[0].GetProperty("romfile").GetString());
        Assert.Equal(1, devices[0].GetProperty("bootindex").GetInt32());
        Assert.False(devices[1].TryGetProperty("romfile", out _));
        // Without it, the rig's kernel boots and no device has a ROM file.
        var normal = QemuCommandLine.QemuArguments(Image, new GuestOptions { VfioUserSockets = ["/tmp/nic0.sock"] }, null).ToList();
        Assert.Contains("-kernel", normal);
        Assert.DoesNotContain("-nographic", normal);
        Assert.DoesNotContain("romfile", normal[normal.IndexOf("-device") + 1]);
    }

    [Fact]
    public void Sockets_outside_tmp_and_run_are_bind_mounted_at_the_same_path()
    {
        var arguments = QemuCommandLine.LauncherArguments(Image, new GuestOptions { VfioUserSockets = ["/var/lib/polynic/nic.sock"] }, null);

        var index = arguments.ToList().IndexOf("/var/lib/polynic");
        Assert.True(index > 0);
        Assert.Equal("/var/lib/polynic", arguments[index + 1]);
    }

    [Fact]
    public async Task A_vfio_user_socket_nobody_serves_makes_qemu_exit_with_a_clear_failure_not_a_hang()
    {
        var socket = $"/tmp/polynic-nobody-{Guid.NewGuid():N}.sock";
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<GuestException>(() => new GuestRig().StartGuestAsync(
            new GuestOptions { Name = "no-server", VfioUserSockets = [socket] }));

        Assert.Contains("QEMU exited with status 1", error.Message);
        Assert.Contains(socket, error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"failure took {clock.Elapsed}");
    }
}
