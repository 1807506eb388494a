namespace Polynic.Core.Nic.Phy;

/// <summary>IEEE 802.3 clause 22 MII management register numbers and bits (22.2.4, 28.2.4, 40.5.1).</summary>
public static class MiiRegisters
{
    /// <summary>Basic mode control (register 0).</summary>
    public const int Bmcr = 0;
    /// <summary>Basic mode status (register 1).</summary>
    public const int Bmsr = 1;
    /// <summary>PHY identifier, OUI bits 3..18 (register 2).</summary>
    public const int PhyId1 = 2;
    /// <summary>PHY identifier, OUI bits 19..24, model, revision (register 3).</summary>
    public const int PhyId2 = 3;
    /// <summary>Auto-negotiation advertisement (register 4).</summary>
    public const int Anar = 4;
    /// <summary>Auto-negotiation link partner base page ability (register 5).</summary>
    public const int Anlpar = 5;
    /// <summary>Auto-negotiation expansion (register 6).</summary>
    public const int Aner = 6;
    /// <summary>1000BASE-T control (register 9).</summary>
    public const int GigabitControl = 9;
    /// <summary>1000BASE-T status (register 10).</summary>
    public const int GigabitStatus = 10;
    /// <summary>Extended status (register 15).</summary>
    public const int ExtendedStatus = 15;

    /// <summary>BMCR: reset, self-clearing.</summary>
    public const ushort BmcrReset = 0x8000;
    /// <summary>BMCR: loopback.</summary>
    public const ushort BmcrLoopback = 0x4000;
    /// <summary>BMCR: speed select, least significant bit (100 Mb/s when alone).</summary>
    public const ushort BmcrSpeedLsb = 0x2000;
    /// <summary>BMCR: auto-negotiation enable.</summary>
    public const ushort BmcrAutonegEnable = 0x1000;
    /// <summary>BMCR: power down.</summary>
    public const ushort BmcrPowerDown = 0x0800;
    /// <summary>BMCR: isolate.</summary>
    public const ushort BmcrIsolate = 0x0400;
    /// <summary>BMCR: restart auto-negotiation, self-clearing.</summary>
    public const ushort BmcrRestartAutoneg = 0x0200;
    /// <summary>BMCR: full duplex.</summary>
    public const ushort BmcrFullDuplex = 0x0100;
    /// <summary>BMCR: speed select, most significant bit (1000 Mb/s when alone).</summary>
    public const ushort BmcrSpeedMsb = 0x0040;

    /// <summary>BMSR: 100BASE-TX full duplex capable.</summary>
    public const ushort Bmsr100Full = 0x4000;
    /// <summary>BMSR: 100BASE-TX half duplex capable.</summary>
    public const ushort Bmsr100Half = 0x2000;
    /// <summary>BMSR: 10BASE-T full duplex capable.</summary>
    public const ushort Bmsr10Full = 0x1000;
    /// <summary>BMSR: 10BASE-T half duplex capable.</summary>
    public const ushort Bmsr10Half = 0x0800;
    /// <summary>BMSR: extended status in register 15.</summary>
    public const ushort BmsrExtendedStatus = 0x0100;
    /// <summary>BMSR: management frames with preamble suppressed are accepted.</summary>
    public const ushort BmsrPreambleSuppression = 0x0040;
    /// <summary>BMSR: auto-negotiation complete.</summary>
    public const ushort BmsrAutonegComplete = 0x0020;
    /// <summary>BMSR: auto-negotiation ability.</summary>
    public const ushort BmsrAutonegAbility = 0x0008;
    /// <summary>BMSR: link status, latching low (22.2.4.2.13).</summary>
    public const ushort BmsrLinkStatus = 0x0004;
    /// <summary>BMSR: extended register capabilities.</summary>
    public const ushort BmsrExtendedCapability = 0x0001;

    /// <summary>ANAR/ANLPAR: IEEE 802.3 selector field value.</summary>
    public const ushort AnSelector8023 = 0x0001;
    /// <summary>ANAR/ANLPAR: 10BASE-T half duplex.</summary>
    public const ushort An10Half = 0x0020;
    /// <summary>ANAR/ANLPAR: 10BASE-T full duplex.</summary>
    public const ushort An10Full = 0x0040;
    /// <summary>ANAR/ANLPAR: 100BASE-TX half duplex.</summary>
    public const ushort An100Half = 0x0080;
    /// <summary>ANAR/ANLPAR: 100BASE-TX full duplex.</summary>
    public const ushort An100Full = 0x0100;
    /// <summary>ANAR/ANLPAR: symmetric PAUSE.</summary>
    public const ushort AnPause = 0x0400;
    /// <summary>ANLPAR: acknowledge.</summary>
    public const ushort AnAcknowledge = 0x4000;

    /// <summary>1000BASE-T control: advertise 1000BASE-T full duplex.</summary>
    public const ushort Advertise1000Full = 0x0200;
    /// <summary>1000BASE-T control: advertise 1000BASE-T half duplex.</summary>
    public const ushort Advertise1000Half = 0x0100;
    /// <summary>1000BASE-T status: link partner 1000BASE-T full duplex capable.</summary>
    public const ushort Partner1000Full = 0x0800;
    /// <summary>1000BASE-T status: link partner 1000BASE-T half duplex capable.</summary>
    public const ushort Partner1000Half = 0x0400;
    /// <summary>1000BASE-T status: local and remote receiver status OK.</summary>
    public const ushort ReceiversOk = 0x3000;
}

/// <summary>Resolved link speed.</summary>
public enum LinkSpeed
{
    /// <summary>No link, or no common ability.</summary>
    None = 0,
    /// <summary>10 Mb/s.</summary>
    Mbps10 = 10,
    /// <summary>100 Mb/s.</summary>
    Mbps100 = 100,
    /// <summary>1000 Mb/s.</summary>
    Mbps1000 = 1000,
}

/// <summary>Power-on identity and abilities of a <see cref="MiiPhy"/>.</summary>
public sealed record MiiPhyOptions
{
    /// <summary>32-bit PHY identifier: PHYID1 in the high half, PHYID2 in the low (Marvell 88E1011: 0x01410C20).</summary>
    public uint PhyId { get; init; }

    /// <summary>BMCR after reset (default auto-negotiation on, full duplex, 1000 Mb/s selected: 0x1140).</summary>
    public ushort ControlReset { get; init; } = MiiRegisters.BmcrAutonegEnable | MiiRegisters.BmcrFullDuplex | MiiRegisters.BmcrSpeedMsb;

    /// <summary>
    /// Read-only ability bits of BMSR (everything except link status and auto-negotiation complete).
    /// Default: 10/100 half and full, extended status, preamble suppression, auto-negotiation, extended capability.
    /// </summary>
    public ushort StatusAbilities { get; init; } = MiiRegisters.Bmsr100Full | MiiRegisters.Bmsr100Half | MiiRegisters.Bmsr10Full
        | MiiRegisters.Bmsr10Half | MiiRegisters.BmsrExtendedStatus | MiiRegisters.BmsrPreambleSuppression
        | MiiRegisters.BmsrAutonegAbility | MiiRegisters.BmsrExtendedCapability;

    /// <summary>ANAR after reset (default 10/100 half and full, PAUSE, 802.3 selector: 0x05E1).</summary>
    public ushort AdvertisementReset { get; init; } = MiiRegisters.AnPause | MiiRegisters.An100Full | MiiRegisters.An100Half
        | MiiRegisters.An10Full | MiiRegisters.An10Half | MiiRegisters.AnSelector8023;

    /// <summary>What the link partner advertises, reported in ANLPAR once negotiation completed (default as ANAR plus ACK).</summary>
    public ushort PartnerAbility { get; init; } = MiiRegisters.AnAcknowledge | MiiRegisters.AnPause | MiiRegisters.An100Full
        | MiiRegisters.An100Half | MiiRegisters.An10Full | MiiRegisters.An10Half | MiiRegisters.AnSelector8023;

    /// <summary>Whether the PHY has 1000BASE-T registers 9, 10 and 15.</summary>
    public bool Gigabit { get; init; } = true;

    /// <summary>1000BASE-T control (register 9) after reset (default advertise 1000 full and half: 0x0300).</summary>
    public ushort GigabitControlReset { get; init; } = MiiRegisters.Advertise1000Full | MiiRegisters.Advertise1000Half;

    /// <summary>Link partner 1000BASE-T abilities reported in register 10 (default full and half: 0x0C00).</summary>
    public ushort PartnerGigabitAbility { get; init; } = MiiRegisters.Partner1000Full | MiiRegisters.Partner1000Half;

    /// <summary>Extended status (register 15) (default 1000BASE-T full and half: 0x3000).</summary>
    public ushort ExtendedStatus { get; init; } = 0x3000;
}
