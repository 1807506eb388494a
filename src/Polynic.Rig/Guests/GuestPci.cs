using System.Globalization;

namespace Polynic.Rig.Guests;

/// <summary>A PCI function as the guest kernel enumerated it.</summary>
/// <param name="Address">Domain:bus:device.function, e.g. "0000:00:04.0".</param>
/// <param name="VendorId">From sysfs <c>vendor</c>.</param>
/// <param name="DeviceId">From sysfs <c>device</c>.</param>
/// <param name="ClassCode">From sysfs <c>class</c> (24 bits).</param>
/// <param name="Revision">From sysfs <c>revision</c>.</param>
/// <param name="Bars">Start and size of each of BAR 0..5 as assigned by the guest (size 0 if absent).</param>
public sealed record GuestPciFunction(string Address, ushort VendorId, ushort DeviceId, uint ClassCode, byte Revision,
    IReadOnlyList<(ulong Start, ulong Size)> Bars)
{
    /// <summary>sysfs directory of the function.</summary>
    public string SysfsPath => $"/sys/bus/pci/devices/{Address}";
}

/// <summary>
/// Guest-side PCI helpers built only on what a stock kernel and busybox offer (sysfs,
/// /dev/mem through busybox <c>devmem</c> and <c>dd</c>, pciutils' <c>setpci</c>), so tests
/// and demos can poke a device the way a user-space driver would.
/// </summary>
public static class GuestPci
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(30);

    /// <summary>Finds the function with these IDs; null if the guest did not enumerate one.</summary>
    public static async Task<GuestPciFunction?> FindAsync(this Guest guest, ushort vendorId, ushort deviceId, CancellationToken cancellationToken = default)
    {
        var script = "for d in /sys/bus/pci/devices/*; do " +
                     $"if [ \"$(cat $d/vendor)\" = 0x{vendorId:x4} ] && [ \"$(cat $d/device)\" = 0x{deviceId:x4} ]; then " +
                     "echo \"${d##*/} $(cat $d/class) $(cat $d/revision)\"; head -n 6 $d/resource; break; fi; done";
        var output = await guest.RunCheckedAsync(script, Quick, cancellationToken);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0) return null;
        var head = lines[0].Split(' ');
        var bars = new List<(ulong, ulong)>();
        foreach (var line in lines.Skip(1).Take(6))
        {
            var f = line.Split(' ');
            ulong start = Hex(f[0]), end = Hex(f[1]);
            bars.Add(end > start ? (start, end - start + 1) : (0, 0));
        }
        return new GuestPciFunction(head[0], vendorId, deviceId, (uint)Hex(head[1]), (byte)Hex(head[2]), bars);
    }

    /// <summary>Reads a 32-bit word at a physical address through /dev/mem (busybox devmem).</summary>
    public static async Task<uint> ReadPhysical32Async(this Guest guest, ulong address, CancellationToken cancellationToken = default)
    {
        var output = await guest.RunCheckedAsync($"devmem 0x{address:x} 32", Quick, cancellationToken);
        return (uint)Hex(output.Trim());
    }

    /// <summary>Writes a 32-bit word at a physical address through /dev/mem (busybox devmem).</summary>
    public static Task WritePhysical32Async(this Guest guest, ulong address, uint value, CancellationToken cancellationToken = default) =>
        guest.RunCheckedAsync($"devmem 0x{address:x} 32 0x{value:x}", Quick, cancellationToken);

    /// <summary>Reads whole pages of physical memory through /dev/mem.</summary>
    /// <param name="guest">The guest.</param>
    /// <param name="address">Page-aligned physical address (memory the guest does not use as RAM, e.g. reserved with memmap=).</param>
    /// <param name="pages">Number of 4 KiB pages.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public static async Task<byte[]> ReadPhysicalPagesAsync(this Guest guest, ulong address, int pages, CancellationToken cancellationToken = default)
    {
        if (address % 4096 != 0) throw new ArgumentException("address must be page aligned", nameof(address));
        var output = await guest.RunCheckedAsync(
            $"dd if=/dev/mem bs=4096 skip={address / 4096} count={pages} 2>/dev/null | od -An -tx1 -v", Quick, cancellationToken);
        var bytes = output.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)
            .Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        if (bytes.Length != pages * 4096)
            throw new GuestException($"read {bytes.Length} bytes of physical memory at 0x{address:x}, expected {pages * 4096}");
        return bytes;
    }

    /// <summary>Fills whole pages of physical memory with random bytes from the guest's /dev/urandom.</summary>
    public static Task FillPhysicalRandomAsync(this Guest guest, ulong address, int pages, CancellationToken cancellationToken = default) =>
        guest.RunCheckedAsync(
            $"dd if=/dev/urandom of=/dev/mem bs=4096 seek={address / 4096} count={pages} conv=notrunc 2>/dev/null", Quick, cancellationToken);

    /// <summary>Binds a stock driver to the function through new_id/bind and checks that sysfs shows it bound.</summary>
    public static async Task BindDriverAsync(this Guest guest, GuestPciFunction function, string driver, CancellationToken cancellationToken = default)
    {
        await guest.RunCheckedAsync(
            $"echo '{function.VendorId:x4} {function.DeviceId:x4}' > /sys/bus/pci/drivers/{driver}/new_id 2>/dev/null; " +
            $"[ -e {function.SysfsPath}/driver ] || echo {function.Address} > /sys/bus/pci/drivers/{driver}/bind; " +
            $"basename $(readlink {function.SysfsPath}/driver) | grep -qx {driver}",
            Quick, cancellationToken);
    }

    /// <summary>Sets bits in the command register (e.g. 0x4 = Bus Master Enable) with setpci, leaving the others.</summary>
    public static Task SetCommandBitsAsync(this Guest guest, GuestPciFunction function, ushort bits, CancellationToken cancellationToken = default) =>
        guest.RunCheckedAsync($"setpci -s {function.Address} COMMAND=0x{bits:x4}:0x{bits:x4}", Quick, cancellationToken);

    private static ulong Hex(string s) =>
        ulong.Parse(s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
