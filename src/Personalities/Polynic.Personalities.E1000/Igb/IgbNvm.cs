using Polynic.Core.Nic;
using Polynic.Core.Nic.Eeprom;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>The 82576's NVM image (datasheet 6.1, table 6-1), read by igb through EERD.</summary>
internal static class IgbNvm
{
    /// <summary>
    /// Words the part reports (EECD.SIZE_EX = 2: 256, as QEMU's igb): igb reads a few words above the
    /// 64 the checksum covers (the eTrack id at 0x42), which read 0 here as they do on QEMU's.
    /// </summary>
    public const int WordCount = E1000Model.LargeEepromWords;

    /// <summary>Word 0x37: pointer to alternate MAC addresses; 0xFFFF says there are none (igb_check_alt_mac_addr).</summary>
    public const int AlternateMacPointerWord = 0x37;

    // The words QEMU's igb ships (hw/net/igb.c igb_eeprom_template), which Linux igb accepts: 0x0A
    // init control 1, 0x0D/0x11 device id 0x10C9, 0x0E vendor, 0x0F init control 2, 0x24 init
    // control 3 (APME clear: no wake on LAN), software-defined pins, PCIe settings. Word 0x37 (the
    // alternate MAC pointer) is 0xFFFF here: QEMU's 0x00E0 points outside a 64-word NVM.
    private static ReadOnlySpan<ushort> Template =>
    [
        0x0000, 0x0000, 0x0000, 0x0D34, 0xFFFF, 0x2010, 0xFFFF, 0xFFFF,
        0x1040, 0xFFFF, 0x002B, 0x0000, 0x8086, 0x10C9, 0x0000, 0x70C3,
        0x0004, 0x10C9, 0x5C00, 0x0000, 0x2880, 0x0014, 0x4A40, 0x0060,
        0x6CFB, 0xC7B0, 0x0ABE, 0x0403, 0x0783, 0x10A6, 0x0001, 0x0602,
        0x0004, 0x0020, 0x0000, 0x004A, 0x2080, 0x00F5, 0x10CA, 0x0000,
        0x0000, 0x0000, 0x4784, 0x4602, 0x0000, 0x0000, 0x1000, 0xFFFF,
        0x0100, 0x4000, 0x131F, 0x4013, 0x0100, 0x4000, 0xFFFF, 0xFFFF,
        0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x0000,
    ];

    /// <summary>The image for station address <paramref name="mac"/>: MAC in words 0-2, words 0..0x3F summing to 0xBABA.</summary>
    public static ushort[] Image(MacAddress mac)
    {
        var image = new EepromImage(WordCount);
        image.Words.Clear();
        Template.CopyTo(image.Words);
        image.SetMacAddress(0, mac);
        image.UpdateChecksum(E1000Eeprom.ChecksumWord, E1000Eeprom.ChecksumSum);
        return image.Words.ToArray();
    }
}
