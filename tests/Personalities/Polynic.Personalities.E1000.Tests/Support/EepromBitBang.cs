using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000.Tests.Support;

/// <summary>Linux e1000's Microwire EEPROM read, pin by pin (e1000_acquire_eeprom, e1000_shift_out/in_ee_bits, e1000_standby_eeprom, e1000_release_eeprom).</summary>
public sealed class EepromBitBang(E1000Rig rig)
{
    private uint _eecd;

    public ushort[] ReadAll(int count, int addressBits = 6)
    {
        Acquire();
        var words = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            ShiftOut(0b110, 3);
            ShiftOut((uint)i, addressBits);
            words[i] = (ushort)ShiftIn();
            Standby();
        }
        Release();
        return words;
    }

    /// <summary>e1000_write_eeprom_microwire: EWEN, WRITE, wait for ready (DO high), EWDS.</summary>
    public void Write(int word, ushort value)
    {
        Acquire();
        ShiftOut(0x13, 5);
        ShiftOut(0, 4);
        Standby();
        ShiftOut(0b101, 3);
        ShiftOut((uint)word, 6);
        ShiftOut(value, 16);
        Standby();   // CS falls: the part programs the word
        int polls = 0;
        while ((rig.Read(Eecd) & EecdDo) == 0)
            if (++polls > 200) throw new InvalidOperationException("EEPROM never became ready");
        Standby();
        ShiftOut(0x10, 5);
        ShiftOut(0, 4);
        Release();
    }

    private void Acquire()
    {
        _eecd = rig.Read(Eecd);
        _eecd |= EecdReq;
        W();
        for (int i = 0; i < 1000 && (rig.Read(Eecd) & EecdGnt) == 0; i++) { }
        if ((rig.Read(Eecd) & EecdGnt) == 0) throw new InvalidOperationException("no EEPROM grant");
        _eecd &= ~(EecdDi | EecdSk);
        W();
        _eecd |= EecdCs;
        W();
    }

    private void ShiftOut(uint data, int bits)
    {
        _eecd &= ~EecdDo;
        for (uint mask = 1u << (bits - 1); mask != 0; mask >>= 1)
        {
            _eecd &= ~EecdDi;
            if ((data & mask) != 0) _eecd |= EecdDi;
            W();
            Raise();
            Lower();
        }
        _eecd &= ~EecdDi;
        W();
    }

    private uint ShiftIn()
    {
        _eecd = rig.Read(Eecd) & ~(EecdDo | EecdDi);
        uint data = 0;
        for (int i = 0; i < 16; i++)
        {
            data <<= 1;
            Raise();
            _eecd = rig.Read(Eecd);
            _eecd &= ~EecdDi;
            if ((_eecd & EecdDo) != 0) data |= 1;
            Lower();
        }
        return data;
    }

    private void Standby()
    {
        _eecd &= ~(EecdCs | EecdSk);
        W();
        _eecd |= EecdSk;
        W();
        _eecd |= EecdCs;
        W();
        _eecd &= ~EecdSk;
        W();
    }

    private void Release()
    {
        _eecd &= ~(EecdCs | EecdDi);
        W();
        Raise();
        Lower();
        _eecd &= ~EecdReq;
        W();
    }

    private void Raise() { _eecd |= EecdSk; W(); }
    private void Lower() { _eecd &= ~EecdSk; W(); }
    private void W() => rig.Write(Eecd, _eecd);
}
