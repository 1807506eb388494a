using System.Globalization;
using System.Text.Json;
using Polynic.Rig.Hosting;

namespace Polynic.Rig.Guests;

/// <summary>
/// The QEMU invocation for a rig guest. QEMU runs chrooted in the cache's root, so the
/// image directory is bind-mounted at /mnt, and /tmp and /run are the host's own: socket
/// paths the test hands over mean the same thing inside.
/// </summary>
internal static class QemuCommandLine
{
    public const string ImageMountPoint = "/mnt";

    public static IReadOnlyList<string> LauncherArguments(GuestImage image, GuestOptions options, string? qmpSocket)
    {
        var binds = new List<IsolatedChroot.Bind>
        {
            new("/sys", "/sys"),
            new("/tmp", "/tmp"),
            new("/run", "/run"),
            new(image.ImageDirectory, ImageMountPoint),
        };
        foreach (var socket in options.VfioUserSockets)
        {
            var full = Path.GetFullPath(socket);
            if (!IsUnder(full, "/tmp") && !IsUnder(full, "/run"))
            {
                var directory = Path.GetDirectoryName(full)!;
                if (binds.All(b => b.HostPath != directory)) binds.Add(new(directory, directory));
            }
        }
        return IsolatedChroot.Arguments(image.RootDirectory, binds, QemuArguments(image, options, qmpSocket));
    }

    public static IReadOnlyList<string> QemuArguments(GuestImage image, GuestOptions options, string? qmpSocket)
    {
        var memory = options.MemoryMiB.ToString(CultureInfo.InvariantCulture) + "M";
        var arguments = new List<string>
        {
            "qemu-system-x86_64",
            // KVM here is nested and ~1000x slower than TCG (architecture.md, "Facts verified").
            "-accel", "tcg",
            "-machine", $"{options.Machine},memory-backend=mem",
            // Shared memfd RAM: the vfio-user server maps guest memory for DMA.
            "-object", $"memory-backend-memfd,id=mem,size={memory},share=on",
            "-m", memory,
            "-smp", options.Cpus.ToString(CultureInfo.InvariantCulture),
        };
        if (options.NetworkBootRom is null)
        {
            arguments.AddRange([
                "-kernel", $"{ImageMountPoint}/{Path.GetFileName(image.KernelPath)}",
                "-initrd", $"{ImageMountPoint}/{Path.GetFileName(image.InitramfsPath)}",
                "-append", KernelCommandLine(options),
                "-display", "none",
            ]);
        }
        else
        {
            // No display: SeaBIOS then also writes the option ROM's screen output to the serial port.
            arguments.Add("-nographic");
        }
        arguments.AddRange(
        [
            "-serial", "stdio",
            "-monitor", "none",
            "-no-user-config",
            "-nodefaults",
        ]);
        if (qmpSocket is not null) arguments.AddRange(["-qmp", $"unix:{qmpSocket},server=on,wait=off"]);
        for (int i = 0; i < options.VfioUserSockets.Count; i++)
        {
            var socket = options.VfioUserSockets[i];
            var device = new System.Text.Json.Nodes.JsonObject
            {
                ["driver"] = "vfio-user-pci",
                // The id lets a test detach the device again (QMP device_del).
                ["id"] = GuestOptions.VfioUserDeviceId(i),
                ["socket"] = new System.Text.Json.Nodes.JsonObject { ["path"] = Path.GetFullPath(socket), ["type"] = "unix" },
            };
            if (i == 0 && options.NetworkBootRom is { } rom)
            {
                device["romfile"] = rom;
                device["bootindex"] = 1;
            }
            arguments.AddRange(["-device", device.ToJsonString()]);
        }
        arguments.AddRange(options.ExtraQemuArguments);
        return arguments;
    }

    // quiet + loglevel keep kernel messages off the protocol line; mitigations=off saves TCG time on every syscall.
    private static string KernelCommandLine(GuestOptions options)
        => $"console=ttyS0,115200 quiet loglevel=3 mitigations=off {options.ExtraKernelArguments}".TrimEnd();

    private static bool IsUnder(string path, string directory) => path.StartsWith(directory + "/", StringComparison.Ordinal);
}
