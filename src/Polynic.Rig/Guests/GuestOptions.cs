namespace Polynic.Rig.Guests;

/// <summary>How to boot one guest. Every wait has a timeout: a wedged guest fails, never hangs.</summary>
public sealed record GuestOptions
{
    /// <summary>A short name for the per-guest work directory and log messages.</summary>
    public string Name { get; init; } = "guest";

    /// <summary>Guest RAM in MiB; shared memfd-backed, as vfio-user needs for DMA.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>Virtual CPUs.</summary>
    public int Cpus { get; init; } = 2;

    /// <summary>QEMU machine type: <c>pc</c> (i440FX, INTx-friendly) or <c>q35</c> (PCIe).</summary>
    public string Machine { get; init; } = "pc";

    /// <summary>vfio-user server sockets; each becomes a <c>vfio-user-pci</c> device. Paths outside /tmp and /run are bind-mounted at the same path.</summary>
    public IReadOnlyList<string> VfioUserSockets { get; init; } = [];

    /// <summary>The QEMU device id of entry <paramref name="index"/> of <see cref="VfioUserSockets"/> (for QMP <c>device_del</c>).</summary>
    public static string VfioUserDeviceId(int index) => $"vfio{index}";

    /// <summary>Raw extra QEMU arguments, e.g. <c>-device e1000,netdev=n0 -netdev user,id=n0,restrict=on</c>.</summary>
    public IReadOnlyList<string> ExtraQemuArguments { get; init; } = [];

    /// <summary>Appended to the kernel command line.</summary>
    public string ExtraKernelArguments { get; init; } = "";

    /// <summary>
    /// Boot the firmware from the network instead of the rig's kernel: the first vfio-user device
    /// gets this option ROM (a path inside the root, e.g. <c>/usr/share/qemu/pxe-e1000.rom</c>) and
    /// boot index 1, so SeaBIOS runs it and the ROM's driver (iPXE) drives the device. QEMU runs with
    /// <c>-nographic</c> so SeaBIOS copies the ROM's console to the serial port. No agent runs: set
    /// <see cref="WaitForReady"/> to false and watch the console (<see cref="Guest.WaitForConsoleAsync"/>).
    /// </summary>
    public string? NetworkBootRom { get; init; }

    /// <summary>Open a QMP socket in the work directory so <see cref="Guest.QmpAsync"/> works.</summary>
    public bool EnableQmp { get; init; } = true;

    /// <summary>Wait for the agent before <see cref="GuestRig.StartGuestAsync"/> returns.</summary>
    public bool WaitForReady { get; init; } = true;

    /// <summary>How long a boot (or reboot) may take to reach the agent.</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Where per-guest work directories go; must be under /tmp or /run (visible inside the root).
    /// Created 0700 if missing; refused if another user owns it or may write it, or it is a link.
    /// </summary>
    public string WorkParent { get; init; } = "/tmp/polynic-guests";

    /// <summary>Keep the work directory (serial log) after a clean dispose too.</summary>
    public bool KeepWorkDirectory { get; init; }
}
