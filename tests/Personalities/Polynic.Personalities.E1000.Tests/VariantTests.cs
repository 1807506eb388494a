using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Personalities.E1000.Tests.Support;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests;

/// <summary>
/// The e1000 behaviour under an identity a personality descriptor declares (as
/// modules/e1000-82545em and modules/e1000-82544gc do): PCI identity, EEPROM size and words, PHY
/// identifier and the bus STATUS reports all come from the descriptor; what the behaviour
/// cannot serve is refused by part.
/// </summary>
public class VariantTests
{
    private static PersonalityDescriptor Descriptor(ushort deviceId, int eepromWords, uint phyId, BusDescriptor? bus,
        PciFunctionDefinition? definition = null, IReadOnlyList<RegisterDescriptor>? registers = null, bool macAtZero = true)
    {
        var words = new Dictionary<int, ushort> { [0x0B] = deviceId, [0x0C] = 0x8086, [0x0D] = deviceId, [0x0E] = 0x8086, [0x0F] = 0x3040, [0x24] = 0x4D01 };
        return new PersonalityDescriptor($"e1000-{deviceId:x4}", "variant", definition ?? new PciFunctionDefinition
        {
            Identity = new PciIdentity(0x8086, deviceId, 0x020000, 3, 0x8086, deviceId, 1),
            Bars = [new BarDefinition(0, BarKind.Memory32, 0x20000), new BarDefinition(1, BarKind.Io, 64)],
            PowerManagement = new PowerManagementCapability(),
        }, registers ?? [], new EepromDescriptor(eepromWords, words, macAtZero ? 0 : 3, 0x3F, 0xBABA), "/modules/variant.xml")
        {
            Phy = new PhyDescriptor(phyId),
            Bus = bus,
        };
    }

    private static E1000Rig Rig(PersonalityDescriptor descriptor) =>
        new(nic: new E1000Device(new NicSettings(E1000Rig.Mac), descriptor));

    [Fact]
    public void An_82545em_descriptor_gives_its_identity_a_256_word_eeprom_its_phy_and_a_64_bit_66_mhz_bus()
    {
        using var rig = Rig(Descriptor(0x100F, 256, 0x0141_0C20, new BusDescriptor(64, 66)));
        Assert.Equal(0x100F_8086u, rig.Machine.ConfigRead(rig.Slot, 0));
        Assert.Equal(0x100F_8086u, rig.Machine.ConfigRead(rig.Slot, 0x2C));

        // EECD.SIZE says 256 words, so Linux (82540/82545) shifts 8 address bits.
        Assert.Equal(EecdSize, rig.Read(Eecd) & EecdSize);
        var words = new EepromBitBang(rig).ReadAll(256, addressBits: 8);
        ushort sum = 0;
        for (int i = 0; i <= 0x3F; i++) sum += words[i];
        Assert.Equal(0xBABA, sum);
        Assert.Equal((ushort)(E1000Rig.Mac[0] | E1000Rig.Mac[1] << 8), words[0]);
        Assert.Equal(0x100F, words[0x0D]);
        Assert.Equal(0xFFFF, words[0xFF]);
        rig.Write(Eerd, 0xFFu << 8 | 1);
        Assert.Equal(0xFFFFu, rig.Read(Eerd) >> 16);
        rig.Write(Eerd, 0x0Du << 8 | 1);
        Assert.Equal(0x100Fu, rig.Read(Eerd) >> 16);

        Assert.Equal(0x0141, PhyRead(rig, 2));
        Assert.Equal(0x0C20, PhyRead(rig, 3));
        Assert.Equal(StatusBus64 | StatusPci66, rig.Read(Status) & (StatusBus64 | StatusPci66));
        ((IPortReceiver)rig.Nic).LinkChanged(false);
        Assert.Equal(StatusBus64 | StatusPci66, rig.Read(Status));   // the bus is reported with or without link
    }

    [Fact]
    public void An_82544gc_descriptor_gives_its_identity_a_64_word_eeprom_the_88e1000_phy_and_a_32_bit_33_mhz_bus()
    {
        using var rig = Rig(Descriptor(0x100C, 64, 0x0141_0C30, new BusDescriptor(32, 33)));
        Assert.Equal(0x100C_8086u, rig.Machine.ConfigRead(rig.Slot, 0));
        Assert.Equal(0u, rig.Read(Eecd) & EecdSize);
        var words = new EepromBitBang(rig).ReadAll(64);
        Assert.Equal(0x100C, words[0x0B]);
        Assert.Equal(0xBABA, words.Aggregate(0, (s, w) => (s + w) & 0xFFFF));
        Assert.Equal(0x0C30, PhyRead(rig, 3));
        Assert.Equal(0u, rig.Read(Status) & (StatusBus64 | StatusPci66));
        Assert.Equal(StatusLu, rig.Read(Status) & StatusLu);
    }

    [Fact]
    public void The_built_in_82540em_is_unchanged()
    {
        using var rig = new E1000Rig();
        Assert.Equal(0x100E_8086u, rig.Machine.ConfigRead(rig.Slot, 0));
        Assert.Equal(0u, rig.Read(Eecd) & EecdSize);
        Assert.Equal(0x0C20, PhyRead(rig, 3));
        Assert.Equal(0u, rig.Read(Status) & (StatusBus64 | StatusPci66));
    }

    [Fact]
    public void What_the_behaviour_cannot_serve_is_named_by_part()
    {
        var factory = new E1000Factory();
        Assert.Empty(factory.CheckDescriptor(Descriptor(0x100F, 256, 0x0141_0C20, null)));

        var bad = Descriptor(0x100F, 128, 0x0141_0C20, null,
            definition: new PciFunctionDefinition
            {
                Identity = new PciIdentity(0x8086, 0x100F, 0x020000, 3, 0x8086, 0x100F, 0),
                Bars = [new BarDefinition(0, BarKind.Memory32, 0x10000)],
                Msi = new MsiCapability(1, true, false),
            },
            registers: [new RegisterDescriptor(0, new Polynic.Core.Nic.Registers.RegisterSpec(0, "CTRL"))],
            macAtZero: false) with { Phy = null };
        var problems = factory.CheckDescriptor(bad);
        Assert.Equal(
            [DescriptorPart.Bars, DescriptorPart.Capabilities, DescriptorPart.Pci, DescriptorPart.Registers, DescriptorPart.Eeprom, DescriptorPart.Eeprom, DescriptorPart.Phy],
            problems.Select(p => p.Part));
        Assert.Contains(problems, p => p.Message.Contains("93C46 (words=\"64\") or a 93C66 (words=\"256\") EEPROM, not 128 words", StringComparison.Ordinal));
        var refused = Assert.Throws<ArgumentException>(() => new E1000Device(new NicSettings(E1000Rig.Mac), bad));
        Assert.Contains("/modules/variant.xml: the e1000 behaviour cannot serve it", refused.Message);
    }

    private static ushort PhyRead(E1000Rig rig, int register)
    {
        rig.Write(Mdic, MdicOpRead | 1u << MdicPhyShift | (uint)register << MdicRegisterShift);
        uint v = rig.Read(Mdic);
        Assert.Equal(MdicReady, v & (MdicReady | MdicError));
        return (ushort)v;
    }
}
