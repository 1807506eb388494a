using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;
using Polynic.Rig.Guests;

namespace Polynic.EndToEnd.Tests.Modules;

/// <summary>
/// A personality with no code at all — modules/scratchpad/scratchpad.xml — served to a real
/// guest: Linux enumerates its identity and capabilities, and its registers answer through the
/// BAR exactly as the descriptor's access rules and reset values say.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DescriptorDeviceGuestTests(RigFixture rig)
{
    [Fact]
    public async Task A_descriptor_only_device_is_enumerated_and_its_registers_follow_their_rules_in_a_guest()
    {
        var catalog = new ModuleCatalog();
        var info = catalog.Load(Path.Combine(PersonalityModules.SourceDirectory(), "scratchpad", "scratchpad.xml"));
        Assert.True(info.State == ModuleState.Loaded, info.ToString());
        var work = Directory.CreateTempSubdirectory("polynic-scratchpad-");
        try
        {
            string socket = Path.Combine(work.FullName, "pad.sock");
            await using var host = await ServerHost.StartAsync(DeviceSpec.ToConfiguration([$"scratchpad:{socket}"]), catalog, NullLoggerFactory.Instance);
            Assert.Empty(host.FailedNics);
            await using var guest = await rig.Rig.StartGuestAsync(new GuestOptions { Name = "scratchpad", VfioUserSockets = [socket] });

            var f = await guest.FindAsync(0x1234, 0x5A01);
            Assert.True(f is not null, "the guest did not enumerate 1234:5a01\n" + guest.SerialText);
            Assert.Equal(0xFF0000u, f.ClassCode);
            Assert.Equal(2, f.Revision);
            Assert.Contains("Power Management", await guest.RunCheckedAsync($"lspci -vv -s {f.Address} 2>&1 || true", TimeSpan.FromSeconds(20)));
            await guest.SetCommandBitsAsync(f, 0x2); // memory space: no driver enables it for us
            ulong bar = f.Bars[0].Start;

            Assert.Equal(0x50414453u, await guest.ReadPhysical32Async(bar));
            await guest.WritePhysical32Async(bar, 0);
            Assert.Equal(0x50414453u, await guest.ReadPhysical32Async(bar));           // read-only
            await guest.WritePhysical32Async(bar + 4, 0xFFFF_1234);
            Assert.Equal(0x1234u, await guest.ReadPhysical32Async(bar + 4));           // write mask 0xFFFF
            await guest.WritePhysical32Async(bar + 8, 0x30);
            Assert.Equal(0xC0u, await guest.ReadPhysical32Async(bar + 8));            // write one to clear
            Assert.Equal(0x3u, await guest.ReadPhysical32Async(bar + 0xC));
            Assert.Equal(0u, await guest.ReadPhysical32Async(bar + 0xC));             // read to clear
            await guest.WritePhysical32Async(bar + 0x10, 0x77);
            Assert.Equal(0u, await guest.ReadPhysical32Async(bar + 0x10));            // write-only
            Assert.Equal(0xA5A5A5A5u, await guest.ReadPhysical32Async(bar + 0x13C));  // last of the array
            await guest.WritePhysical32Async(bar + 0x13C, 0xDEADBEEF);
            Assert.Equal(0xDEADBEEFu, await guest.ReadPhysical32Async(bar + 0x13C));
            Assert.Equal(0u, await guest.ReadPhysical32Async(bar + 0x800));           // undeclared
            Assert.Null(Assert.Single(host.Functions).FailureReason);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
