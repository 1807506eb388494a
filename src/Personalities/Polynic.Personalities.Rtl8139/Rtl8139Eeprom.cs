using Polynic.Core.Nic;
using Polynic.Core.Nic.Eeprom;
using static Polynic.Personalities.Rtl8139.Rtl8139Bits;

namespace Polynic.Personalities.Rtl8139;

/// <summary>
/// The 93C46 (64 x 16 bit) behind Cfg9346 (datasheet 6, "9346CR"): in programming mode (EEM = 10)
/// bits EECS/EESK/EEDI drive the part and EEDO reads it, the way 8139too/8139cp read_eeprom clock
/// it. Contents as on RTL8139 boards (and QEMU's model): word 0 the 0x8129 signature both drivers
/// use to probe the address width, PCI IDs in words 1-4, the station address in words 7-9.
/// </summary>
internal sealed class Rtl8139Eeprom
{
    public const int Words = 64;
    public const int MacWord = 7;

    private byte _cfg;

    public Rtl8139Eeprom(MacAddress mac)
    {
        Image = new EepromImage(Words);
        var w = Image.Words;
        w.Clear();
        w[0] = 0x8129;
        w[1] = 0x10EC;
        w[2] = 0x8139;
        w[3] = 0x10EC;
        w[4] = 0x8139;
        w[5] = 0x4020;
        w[6] = 0xE512;
        Image.SetMacAddress(MacWord, mac);
        Part = new MicrowireEeprom(Image, addressBits: 6);
    }

    public EepromImage Image { get; }
    public MicrowireEeprom Part { get; }

    /// <summary>The station address stored in words 7-9.</summary>
    public MacAddress MacAddress => Image.GetMacAddress(MacWord);

    /// <summary>EEM bits 7:6 of Cfg9346.</summary>
    public byte Mode => (byte)(_cfg & CfgModeMask);

    /// <summary>Config registers (Config1, 3, 4, 5, BMCR) accept writes only with EEM = 11 (datasheet 6, 9346CR).</summary>
    public bool ConfigWritable => Mode == CfgModeConfigWrite;

    public byte Read()
    {
        byte v = (byte)(_cfg & (CfgModeMask | CfgEecs | CfgEesk | CfgEedi));
        if (Mode == CfgModeProgram && Part.DataOut) v |= CfgEedo;
        return v;
    }

    public void Write(byte value)
    {
        _cfg = value;
        if (Mode == CfgModeProgram)
            Part.SetPins((value & CfgEecs) != 0, (value & CfgEesk) != 0, (value & CfgEedi) != 0);
        else
            Part.SetPins(false, false, false);
    }

    public void Reset()
    {
        _cfg = 0;
        Part.Reset();
    }
}
