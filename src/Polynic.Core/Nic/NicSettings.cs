namespace Polynic.Core.Nic;

/// <summary>What every NIC personality is configured with, whatever its hardware.</summary>
/// <param name="Mac">The station address the NIC presents (EEPROM / PROM / config space, as the hardware does).</param>
public sealed record NicSettings(MacAddress Mac)
{
    /// <summary>A locally administered address in QEMU's 52:54:00 range, derived from <paramref name="index"/>.</summary>
    public static NicSettings ForIndex(int index) =>
        new(MacAddress.FromUInt64(0x52_54_00_00_00_00UL | (uint)(0x12_34_56 + index) & 0xFF_FF_FFUL));
}
