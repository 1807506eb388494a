using Polynic.Core.Pci;
using Polynic.Core.Tests.Pci;
using Polynic.Core.Virtio;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Virtio;

public class VirtioPciLayoutTests
{
    [Fact]
    public void Vendor_specific_capabilities_are_linked_after_msix_with_their_bytes_read_only()
    {
        var definition = VirtioPciLayout.Create(deviceType: 1, classCode: 0x020000, queues: 3, msixVectors: 4, configSize: 20);
        var machine = new Machine();
        int slot = machine.Plug(new ProbeDevice(definition));
        Assert.Equal(0x1041_1AF4u, machine.ConfigRead(slot, 0));
        Assert.Equal(1u, machine.ConfigRead(slot, 8, 1));
        var found = new Dictionary<uint, int>();
        uint at = machine.ConfigRead(slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (machine.ConfigRead(slot, (int)at, 1) == 0x09)
            {
                uint type = machine.ConfigRead(slot, (int)at + 3, 1);
                found[type] = (int)at;
                // Guest writes do not change a vendor capability.
                machine.ConfigWrite(slot, (int)at + 8, 0xDEAD_BEEF);
            }
            at = machine.ConfigRead(slot, (int)at + 1, 1);
        }
        Assert.Equal([1u, 2u, 3u, 4u], found.Keys.Order());
        int notify = found[2];
        Assert.Equal(20u, machine.ConfigRead(slot, notify + 2, 1));                      // cap_len
        Assert.Equal(VirtioPciLayout.NotifyOffset, machine.ConfigRead(slot, notify + 8));
        Assert.Equal(3 * VirtioPciLayout.NotifyMultiplier, machine.ConfigRead(slot, notify + 12));
        Assert.Equal(VirtioPciLayout.NotifyMultiplier, machine.ConfigRead(slot, notify + 16));
        Assert.Equal(20u, machine.ConfigRead(slot, found[4] + 12));
    }

    [Fact]
    public void Capabilities_that_overflow_config_space_are_refused_at_definition_time()
    {
        var definition = new PciFunctionDefinition
        {
            Identity = new PciIdentity(0x1AF4, 0x1041, 0x020000, 1, 0x1AF4, 1, 1),
            VendorCapabilities = [new VendorCapability(new byte[200]), new VendorCapability(new byte[100])],
        };
        Assert.Throws<ArgumentException>(definition.Validate);
        Assert.Throws<ArgumentException>(new PciFunctionDefinition
        {
            Identity = definition.Identity,
            VendorCapabilities = [new VendorCapability([])],
        }.Validate);
    }
}
