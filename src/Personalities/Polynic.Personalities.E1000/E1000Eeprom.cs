using Polynic.Core.Nic;
using Polynic.Core.Nic.Eeprom;
using static Polynic.Personalities.E1000.E1000Bits;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The 8254x's Microwire EEPROM: a 93C46 (64 words, 6-bit addresses, EECD.SIZE 0) as on the
/// 82540EM, or a 93C66 (256 words, 8-bit addresses, EECD.SIZE 1) when a descriptor declares one;
/// the image with the MAC address and checksum, the EECD bit-bang interface Linux uses and the
/// EERD register iPXE uses (8254x SDM 5.6 "EEPROM Interface", 13.4.3 EECD, 13.4.4 EERD).
/// </summary>
internal sealed class E1000Eeprom
{
    /// <summary>Words in the 82540EM's part (EECD.SIZE = 0).</summary>
    public const int WordCount = 64;

    /// <summary>The checksum word; words 0..0x3F sum to <see cref="ChecksumSum"/> (Linux EEPROM_SUM).</summary>
    public const int ChecksumWord = 0x3F;

    /// <summary>Required 16-bit sum of all words.</summary>
    public const ushort ChecksumSum = 0xBABA;

    // Word values QEMU's e1000 ships (hw/net/e1000.c e1000_eeprom_template), which the stock drivers
    // accept: 0x04 ID LED 0xFFFF (driver default), 0x0A-0x0E init control 1 and the IDs, 0x0F init
    // control 2 with PAUSE+ASM_DIR (flow control full), 0x24 init control 3 with APME (wake on LAN),
    // which keeps Linux from powering the PHY down on ifdown.
    private static ReadOnlySpan<ushort> Template =>
    [
        0x0000, 0x0000, 0x0000, 0x0000, 0xFFFF, 0x0000, 0x0000, 0x0000,
        0x3000, 0x1000, 0x6403, 0x100E, 0x8086, 0x100E, 0x8086, 0x3040,
        0x0008, 0x2000, 0x7E14, 0x0048, 0x1000, 0x00D8, 0x0000, 0x2700,
        0x6CC9, 0x3150, 0x0722, 0x040B, 0x0984, 0x0000, 0xC000, 0x0706,
        0x1008, 0x0000, 0x0F04, 0x7FFF, 0x4D01, 0xFFFF, 0xFFFF, 0xFFFF,
        0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF,
        0x0100, 0x4000, 0x121C, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF,
        0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x0000,
    ];

    /// <summary>The 82540EM's image for station address <paramref name="mac"/> with a valid checksum.</summary>
    public static ushort[] DefaultImage(MacAddress mac)
    {
        var image = new EepromImage(WordCount);
        Template.CopyTo(image.Words);
        image.SetMacAddress(0, mac);
        image.UpdateChecksum(ChecksumWord, ChecksumSum);
        return image.Words.ToArray();
    }

    /// <summary>Builds the 82540EM's image for station address <paramref name="mac"/>.</summary>
    public E1000Eeprom(MacAddress mac) : this(DefaultImage(mac)) { }

    /// <summary>An EEPROM holding <paramref name="words"/> (64 or 256 of them, the station address in words 0-2).</summary>
    public E1000Eeprom(ReadOnlySpan<ushort> words)
    {
        if (words.Length is not (E1000Model.SmallEepromWords or E1000Model.LargeEepromWords))
            throw new ArgumentException($"an 8254x Microwire EEPROM has 64 or 256 words, not {words.Length}", nameof(words));
        Image = new EepromImage(words.Length);
        words.CopyTo(Image.Words);
        Large = words.Length == E1000Model.LargeEepromWords;
        Serial = new MicrowireEeprom(Image, Large ? 8 : 6);
    }

    /// <summary>A 93C66 (256 words): EECD.SIZE reads 1 and commands carry 8 address bits.</summary>
    public bool Large { get; }

    /// <summary>The words (non-volatile: kept across resets, changed only by guest EEPROM writes).</summary>
    public EepromImage Image { get; }

    /// <summary>The serial interface behind EECD.</summary>
    public MicrowireEeprom Serial { get; }

    /// <summary>The station address in words 0..2, which a reset loads into RAL0/RAH0.</summary>
    public MacAddress MacAddress => Image.GetMacAddress(0);

    /// <summary>
    /// What a read of EECD returns: the pins and request bits the driver wrote, DO from the part,
    /// PRES, GNT while REQ is set (no hardware auto-read ever competes), SIZE 0 for 64 words and
    /// 1 for 256 (the driver of an 82540 or 82545 takes its word count and address width from it).
    /// </summary>
    public uint ReadEecd(uint stored)
    {
        uint value = (stored & (EecdSk | EecdCs | EecdDi | EecdFwe | EecdReq)) | EecdPres | (Large ? EecdSize : 0);
        if ((stored & EecdReq) != 0) value |= EecdGnt;
        if (Serial.DataOut) value |= EecdDo;
        return value;
    }

    /// <summary>The driver wrote EECD: drive CS, SK and DI into the part.</summary>
    public void WriteEecd(uint value) =>
        Serial.SetPins((value & EecdCs) != 0, (value & EecdSk) != 0, (value & EecdDi) != 0);

    /// <summary>A write of EERD: with START set, the read completes at once (DONE and DATA filled in).</summary>
    public uint ServeEerd(uint value) => Image.ServeReadRegister(value, EepromReadRegisterLayout.Intel82540);

    /// <summary>Deselects the part (device reset); the words are kept.</summary>
    public void Reset() => Serial.Reset();
}
