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
                // Guest writes do not change a vendor capability (but for the PCI_CFG window's fields).
                machine.ConfigWrite(slot, (int)at + 8, 0xDEAD_BEEF);
            }
            at = machine.ConfigRead(slot, (int)at + 1, 1);
        }
        Assert.Equal([1u, 2u, 3u, 4u, 5u], found.Keys.Order());
        int notify = found[2];
        Assert.Equal(20u, machine.ConfigRead(slot, notify + 2, 1));                      // cap_len
        Assert.Equal(VirtioPciLayout.NotifyOffset, machine.ConfigRead(slot, notify + 8));
        Assert.Equal(3 * VirtioPciLayout.NotifyMultiplier, machine.ConfigRead(slot, notify + 12));
        Assert.Equal(VirtioPciLayout.NotifyMultiplier, machine.ConfigRead(slot, notify + 16));
        Assert.Equal(20u, machine.ConfigRead(slot, found[4] + 12));
    }

    private static int FindCapability(Machine machine, int slot, uint cfgType)
    {
        uint at = machine.ConfigRead(slot, 0x34, 1);
        for (int guard = 0; at != 0 && guard < 48; guard++)
        {
            if (machine.ConfigRead(slot, (int)at, 1) == 0x09 && machine.ConfigRead(slot, (int)at + 3, 1) == cfgType) return (int)at;
            at = machine.ConfigRead(slot, (int)at + 1, 1);
        }
        throw new Xunit.Sdk.XunitException($"no virtio capability of cfg_type {cfgType}");
    }

    [Fact]
    public void The_pci_cfg_capability_reads_and_writes_the_bar_through_configuration_space()
    {
        // virtio 1.2, 4.1.4.9: set bar, offset and length, then access pci_cfg_data (iPXE's path when it cannot map the BAR).
        var machine = new Machine();
        int slot = machine.Plug(new ProbeDevice(VirtioPciLayout.Create(deviceType: 1, classCode: 0x020000, queues: 3, msixVectors: 4, configSize: 20)));
        int cap = FindCapability(machine, slot, 5);
        Assert.Equal(20u, machine.ConfigRead(slot, cap + 2, 1));                            // cap_len
        var function = machine.Function(slot);
        machine.ConfigWrite(slot, cap + 4, 0, 1);                                           // bar 0
        machine.ConfigWrite(slot, cap + 8, 0x10);                                           // offset
        machine.ConfigWrite(slot, cap + 12, 4);                                             // length
        machine.ConfigWrite(slot, cap + 16, 0x1122_3344);
        Span<byte> register = stackalloc byte[4];
        Assert.True(function.ReadBar(0, 0x10, register));
        Assert.Equal(0x1122_3344u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(register));

        // A 2-byte read: the device's bytes land in the first two bytes of pci_cfg_data.
        Assert.True(function.WriteBar(0, 0x22, [0xCD, 0xAB]));
        machine.ConfigWrite(slot, cap + 8, 0x22);
        machine.ConfigWrite(slot, cap + 12, 2);
        Assert.Equal(0xABCDu, machine.ConfigRead(slot, cap + 16, 2));
        // Only length bytes are written: the byte after stays.
        Assert.True(function.WriteBar(0, 0x24, [0x77]));
        machine.ConfigWrite(slot, cap + 16, 0xFFFF_9988);
        Assert.True(function.ReadBar(0, 0x22, register));
        Assert.Equal(0x0077_9988u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(register));
    }

    [Theory]
    [InlineData(7u, 0x10u, 4u)]         // no such BAR
    [InlineData(0u, 0x10u, 3u)]         // length not 1, 2 or 4
    [InlineData(0u, 0x11u, 4u)]         // offset not aligned to the length
    [InlineData(0u, 0x4000u, 4u)]       // past the end of the BAR
    [InlineData(0u, 0xFFFF_FFFCu, 4u)]  // far past it
    public void A_pci_cfg_window_set_up_wrongly_is_ignored(uint bar, uint offset, uint length)
    {
        var machine = new Machine();
        var probe = new ProbeDevice(VirtioPciLayout.Create(deviceType: 1, classCode: 0x020000, queues: 3, msixVectors: 4, configSize: 20));
        int slot = machine.Plug(probe);
        int cap = FindCapability(machine, slot, 5);
        machine.ConfigWrite(slot, cap + 4, bar, 1);
        machine.ConfigWrite(slot, cap + 8, offset);
        machine.ConfigWrite(slot, cap + 12, length);
        machine.ConfigWrite(slot, cap + 16, 0x5555_5555);
        Assert.Equal(0x5555_5555u, machine.ConfigRead(slot, cap + 16));                     // what the driver wrote, nothing fetched
        Span<byte> registers = stackalloc byte[256];
        Assert.True(machine.Function(slot).ReadBar(0, 0, registers));
        Assert.DoesNotContain((byte)0x55, registers.ToArray());
        Assert.Null(machine.Function(slot).FailureReason);
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
