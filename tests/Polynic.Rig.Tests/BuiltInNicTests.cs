using Polynic.Rig.Guests;

namespace Polynic.Rig.Tests;

/// <summary>QEMU's own e1000 proves that the initramfs loads the right module at boot.</summary>
public sealed class BuiltInNicTests
{
    [Fact]
    public async Task Qemu_e1000_is_bound_by_the_guest_e1000_module()
    {
        await using var guest = await new GuestRig().StartGuestAsync(new GuestOptions
        {
            Name = "e1000",
            Cpus = 1,
            // restrict=on: the user-mode network reaches nothing outside the guest.
            ExtraQemuArguments = ["-device", "e1000,netdev=n0", "-netdev", "user,id=n0,restrict=on"],
        });

        var interfaces = await guest.RunCheckedAsync("ls /sys/class/net", TimeSpan.FromSeconds(20));
        var driver = await guest.RunCheckedAsync("basename $(readlink /sys/class/net/eth0/device/driver)", TimeSpan.FromSeconds(20));
        var ethtool = await guest.RunCheckedAsync("ethtool -i eth0", TimeSpan.FromSeconds(20));

        Assert.Contains("eth0", interfaces.Split('\n'));
        Assert.Equal("e1000\n", driver);
        Assert.Contains("driver: e1000", ethtool);
    }
}
