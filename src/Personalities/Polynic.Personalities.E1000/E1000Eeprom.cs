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

    // The 82574L's NVM words (82574 datasheet 6.1, table 6-1; the image QEMU's e1000e ships, which Linux
    // e1000e accepts): 0x04 ID LED 0xF746 (e1000e substitutes its 82573 default), 0x0A init control 1,
    // 0x0C/0x0D vendor and device ID, 0x0F init control 2 with manageability (MNGM, bits 14:13) off,
    // 0x24 init control 3 with APME (wake on LAN, so ifdown keeps the PHY powered).
    private static ReadOnlySpan<ushort> Template82574L =>
    [
        0x0000, 0x0000, 0x0000, 0x0420, 0xF746, 0x2010, 0xFFFF, 0xFFFF,
        0x0000, 0x0000, 0x026B, 0x0000, 0x8086, 0x10D3, 0x0000, 0x8058,
        0x0000, 0x2001, 0x7E7C, 0xFFFF, 0x1000, 0x00C8, 0x0000, 0x2704,
        0x6CC9, 0x3150, 0x070E, 0x460B, 0x2D84, 0x0100, 0xF000, 0x0706,
        0x6000, 0x0080, 0x0F04, 0x7FFF, 0x4F01, 0xC600, 0x0000, 0x20FF,
        0x0028, 0x0003, 0x0000, 0x0000, 0x0000, 0x0003, 0x0000, 0xFFFF,
        0x0100, 0xC000, 0x121C, 0xC007, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF,
        0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x0000, 0x0120, 0xFFFF, 0x0000,
    ];

    /// <summary>The 82574L's 64-word NVM for station address <paramref name="mac"/> with a valid checksum (word 0x3F, sum 0xBABA).</summary>
    public static ushort[] Image82574L(MacAddress mac)
    {
        var image = new EepromImage(WordCount);
        Template82574L.CopyTo(image.Words);
        image.SetMacAddress(0, mac);
        image.UpdateChecksum(ChecksumWord, ChecksumSum);
        return image.Words.ToArray();
    }

    /// <summary>The 82574's EERD/EEWR: START bit 0, DONE bit 1, word address 15:2, data 31:16 (datasheet 10.2.2.x; Linux E1000_NVM_RW_*).</summary>
    private static readonly EepromReadRegisterLayout Layout82574 =
        new(StartBit: 0, DoneBit: 1, AddressShift: E1000eBits.EerwAddressShift, AddressBits: 14, DataShift: E1000eBits.EerwDataShift);

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
    /// <param name="words">The image.</param>
    /// <param name="registerNvm">
    /// The 82574's NVM: read and written through EERD/EEWR only, EECD.AUTO_RD (bit 9) set where the
    /// 8254x has SIZE, no Microwire part behind EECD.
    /// </param>
    public E1000Eeprom(ReadOnlySpan<ushort> words, bool registerNvm = false)
    {
        RegisterNvm = registerNvm;
        if (words.Length is not (E1000Model.SmallEepromWords or E1000Model.LargeEepromWords))
            throw new ArgumentException($"an 8254x Microwire EEPROM has 64 or 256 words, not {words.Length}", nameof(words));
        Image = new EepromImage(words.Length);
        words.CopyTo(Image.Words);
        Large = words.Length == E1000Model.LargeEepromWords;
        Serial = new MicrowireEeprom(Image, Large ? 8 : 6);
    }

    /// <summary>The 82574's register-only NVM interface (see the constructor).</summary>
    public bool RegisterNvm { get; }

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
        if (RegisterNvm)
        {
            // 82574/82576: NVM present, auto-read done (e1000e/igb_get_auto_rd_done poll it after every
            // reset), size field 14:11 = log2(words) - 6 (0: 64 words, 2: 256), GNT follows REQ.
            uint nvm = (stored & (EecdSk | EecdCs | EecdDi | EecdFwe | EecdReq)) | EecdPres | E1000eBits.EecdAutoRead
                | (Large ? 2u << 11 : 0);
            return (stored & EecdReq) != 0 ? nvm | EecdGnt : nvm;
        }
        uint value = (stored & (EecdSk | EecdCs | EecdDi | EecdFwe | EecdReq)) | EecdPres | (Large ? EecdSize : 0);
        if ((stored & EecdReq) != 0) value |= EecdGnt;
        if (Serial.DataOut) value |= EecdDo;
        return value;
    }

    /// <summary>The driver wrote EECD: drive CS, SK and DI into the part.</summary>
    public void WriteEecd(uint value) =>
        Serial.SetPins((value & EecdCs) != 0, (value & EecdSk) != 0, (value & EecdDi) != 0);

    /// <summary>A write of EERD: with START set, the read completes at once (DONE and DATA filled in).</summary>
    public uint ServeEerd(uint value) =>
        Image.ServeReadRegister(value, RegisterNvm ? Layout82574 : EepromReadRegisterLayout.Intel82540);

    /// <summary>
    /// A write of the 82574's EEWR: with START set, the word at the address takes the data and the
    /// write completes at once (DONE). An address outside the NVM completes without writing.
    /// </summary>
    public uint ServeEewr(uint value)
    {
        if ((value & E1000eBits.EerwStart) == 0) return value;
        int address = (int)((value >> E1000eBits.EerwAddressShift) & 0x3FFF);
        Image.TryWrite(address, (ushort)(value >> E1000eBits.EerwDataShift));
        return value | E1000eBits.EerwDone;
    }

    /// <summary>Deselects the part (device reset); the words are kept.</summary>
    public void Reset() => Serial.Reset();
}
