using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using static Polynic.Personalities.E1000.E1000Bits;

namespace Polynic.Personalities.E1000;

/// <summary>
/// What one 8254x part looks like to its driver while the behaviour stays the same: its PCI
/// function (identity, BARs, capabilities), its EEPROM words, the identifier its PHY reports and
/// the PCI bus STATUS reports. The built-in model is the 82540EM; a personality descriptor that
/// names this behaviour (<c>&lt;behaviour personality="e1000"/&gt;</c>) supplies another
/// (modules/e1000-82545em, modules/e1000-82544gc). Nothing in the behaviour asks which part it is.
/// </summary>
internal sealed class E1000Model
{
    /// <summary>Which programming model the part follows beyond the shared 8254x core.</summary>
    public enum Family
    {
        /// <summary>82540/82544/82545: Microwire EEPROM, INTx only, legacy receive descriptors.</summary>
        Pci8254x,

        /// <summary>82574L: SPI NVM read through EERD, BM PHY, MSI-X with IVAR, extended receive descriptors.</summary>
        Pcie82574,
    }

    /// <summary>Words of the 93C46 EEPROM (6 address bits) and of the 93C66 (8 address bits, EECD.SIZE set).</summary>
    public const int SmallEepromWords = 64, LargeEepromWords = 256;

    private readonly Func<MacAddress, ushort[]> _eeprom;

    private E1000Model(PciFunctionDefinition definition, Func<MacAddress, ushort[]> eeprom, uint phyId, uint statusBus,
        Family family = Family.Pci8254x, int ioBar = 1)
    {
        Definition = definition;
        _eeprom = eeprom;
        PhyId = phyId;
        StatusBus = statusBus;
        PartFamily = family;
        IoBar = ioBar;
    }

    /// <summary>The programming model beyond the shared 8254x core.</summary>
    public Family PartFamily { get; }

    /// <summary>Whether this is the 82574L (e1000e) rather than a PCI 8254x.</summary>
    public bool Is82574 => PartFamily == Family.Pcie82574;

    /// <summary>The BAR of the IOADDR/IODATA window (1 on the 8254x, 2 on the 82574, whose BAR 1 is the flash window).</summary>
    public int IoBar { get; }

    /// <summary>The PCI function the guest enumerates.</summary>
    public PciFunctionDefinition Definition { get; }

    /// <summary>What PHY registers 2 and 3 read.</summary>
    public uint PhyId { get; }

    /// <summary>The STATUS bits that say which bus the part sits on (BUS64, PCI66); always reported.</summary>
    public uint StatusBus { get; }

    /// <summary>The EEPROM image of a NIC with station address <paramref name="mac"/> (64 or 256 words, MAC in words 0-2, valid checksum).</summary>
    public ushort[] EepromImage(MacAddress mac) => _eeprom(mac);

    /// <summary>The Intel 82540EM (8086:100E) with a 64-word EEPROM and a Marvell 88E1011, on a 32-bit 33 MHz bus.</summary>
    public static E1000Model I82540EM { get; } = new(
        new PciFunctionDefinition
        {
            Identity = E1000Device.Identity,
            Bars =
            [
                new BarDefinition(0, BarKind.Memory32, E1000Device.RegisterBarSize),
                new BarDefinition(1, BarKind.Io, IoWindow.Size),
            ],
            PowerManagement = new PowerManagementCapability(),
        },
        E1000Eeprom.DefaultImage,
        M88E1011Phy.DefaultPhyId,
        statusBus: 0);

    /// <summary>
    /// The Intel 82574L (8086:10D3), QEMU's "e1000e": BAR 0 registers, BAR 1 the flash window (unused
    /// by Linux on this part), BAR 2 the I/O window, BAR 3 the MSI-X table (offset 0) and PBA (offset
    /// 0x2000) with five vectors; MSI with one vector; a 64-word NVM read through EERD and a BME1000 PHY
    /// (82574 datasheet 9.x PCI configuration, 10.x registers; the layout QEMU's hw/net/e1000e.c uses).
    /// </summary>
    public static E1000Model I82574L { get; } = new(
        new PciFunctionDefinition
        {
            Identity = new PciIdentity(
                VendorId: 0x8086, DeviceId: 0x10D3, ClassCode: 0x020000, Revision: 0x00,
                SubsystemVendorId: 0x8086, SubsystemId: 0x0000, InterruptPin: 1),
            Bars =
            [
                new BarDefinition(0, BarKind.Memory32, E1000Device.RegisterBarSize),
                new BarDefinition(1, BarKind.Memory32, E1000Device.RegisterBarSize),
                new BarDefinition(2, BarKind.Io, 32),
                new BarDefinition(3, BarKind.Memory32, 16 * 1024),
            ],
            Msi = new MsiCapability(Vectors: 1, Is64Bit: true),
            Msix = new MsixCapability(E1000eRegisters.MsixVectors, TableBar: 3, TableOffset: 0, PbaBar: 3, PbaOffset: 0x2000),
            PowerManagement = new PowerManagementCapability(),
        },
        E1000Eeprom.Image82574L,
        BmePhyId,
        statusBus: 0,
        Family.Pcie82574,
        ioBar: 2);

    /// <summary>BME1000 revision 2, the only PHY e1000_init_phy_params_82571 accepts on an 82574 (BME1000_E_PHY_ID_R2).</summary>
    public const uint BmePhyId = 0x0141_0CB1;

    /// <summary>The model a checked descriptor declares (see <see cref="Check"/>).</summary>
    /// <exception cref="ArgumentException">The descriptor fails <see cref="Check"/>; the message lists why.</exception>
    public static E1000Model FromDescriptor(PersonalityDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var problems = Check(descriptor);
        if (problems.Count > 0)
            throw new ArgumentException($"{descriptor.SourceFile}: the e1000 behaviour cannot serve it: {string.Join("; ", problems.Select(p => p.Message))}");
        var eeprom = descriptor.Eeprom!;
        var bus = descriptor.Bus ?? new BusDescriptor(32, 33);
        uint statusBus = (bus.Width == 64 ? StatusBus64 : 0) | (bus.ClockMegahertz == 66 ? StatusPci66 : 0);
        return new E1000Model(descriptor.Definition, eeprom.Image, descriptor.Phy!.Identifier, statusBus);
    }

    /// <summary>
    /// What this behaviour cannot serve in <paramref name="descriptor"/>: it has its own register
    /// map, register BAR and I/O window, raises INTx only, and needs an EEPROM (a 93C46 or 93C66
    /// with the station address in words 0-2, where a reset loads RAL0/RAH0 from) and a PHY.
    /// </summary>
    public static IReadOnlyList<DescriptorProblem> Check(PersonalityDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var problems = new List<DescriptorProblem>();
        var definition = descriptor.Definition;
        var bars = definition.Bars.OrderBy(b => b.Index).ToArray();
        if (bars.Length != 2
            || bars[0] is not { Index: 0, Kind: BarKind.Memory32, Size: E1000Device.RegisterBarSize, Prefetchable: false }
            || bars[1] is not { Index: 1, Kind: BarKind.Io, Size: IoWindow.Size })
            problems.Add(new(DescriptorPart.Bars, $"the e1000 behaviour needs exactly BAR 0 kind=\"memory32\" size=\"0x{E1000Device.RegisterBarSize:X}\" (its registers) and BAR 1 kind=\"io\" size=\"{IoWindow.Size}\" (the IOADDR/IODATA window)"));
        if (definition.Msi is not null || definition.Msix is not null)
            problems.Add(new(DescriptorPart.Capabilities, "the e1000 behaviour raises INTx only: declare no msi or msix"));
        if (definition.Identity.InterruptPin == 0)
            problems.Add(new(DescriptorPart.Pci, "the e1000 behaviour raises INTx: interruptPin must not be \"none\""));
        if (descriptor.Registers.Count > 0)
            problems.Add(new(DescriptorPart.Registers, "the e1000 behaviour declares its own register map: remove <registers>"));
        if (descriptor.Eeprom is not { } eeprom)
        {
            problems.Add(new(DescriptorPart.Eeprom, "the e1000 behaviour needs an <eeprom> (words=\"64\" or \"256\", <mac word=\"0\"/>)"));
        }
        else
        {
            if (eeprom.Words is not (SmallEepromWords or LargeEepromWords))
                problems.Add(new(DescriptorPart.Eeprom, $"the e1000 behaviour serves a 93C46 (words=\"{SmallEepromWords}\") or a 93C66 (words=\"{LargeEepromWords}\") EEPROM, not {eeprom.Words} words"));
            if (eeprom.MacWord != 0)
                problems.Add(new(DescriptorPart.Eeprom, "the e1000 behaviour loads the station address from EEPROM words 0-2: give <mac word=\"0\"/>"));
        }
        if (descriptor.Phy is null)
            problems.Add(new(DescriptorPart.Phy, "the e1000 behaviour needs a <phy id=\"...\"/> (what MII registers 2 and 3 read, e.g. 0x01410C20 for the 88E1011)"));
        return problems;
    }
}
