namespace Polynic.Core.Nic.Eeprom;

/// <summary>
/// The bit-banged Microwire serial EEPROM (93C46 / 93C56 / 93C66, x16 organisation) behind
/// e1000 EECD and RTL8139 Cfg9346: the driver drives chip select (CS), the clock (SK) and data in
/// (DI) and reads data out (DO). The personality maps its register bits to
/// <see cref="SetPins"/> and <see cref="DataOut"/>.
/// </summary>
/// <remarks>
/// <para>
/// Protocol (93C46 datasheets; as clocked by Linux e1000_shift_out_ee_bits/e1000_shift_in_ee_bits
/// and 8139too read_eeprom): with CS high, DI is sampled on each rising edge of SK. Leading zeros
/// are ignored until the start bit 1, then a 2-bit opcode and <see cref="AddressBits"/> address bits
/// follow, most significant bit first. READ (10): after the last address bit DO drives a dummy 0;
/// each further rising edge puts the next data bit on DO, D15 first; after D0 the next word
/// follows (sequential read), which 8139too relies on when it probes the address width with 8
/// address bits. WRITE (01) takes 16 data bits; ERASE (11); EWEN/EWDS/WRAL/ERAL (00 + the two top
/// address bits 11/00/01/10). Programming needs EWEN first and happens when CS falls, instantly: when
/// CS rises again DO shows ready (1), which is what e1000_write_eeprom_microwire polls for.
/// When the part is not driving data, DO reads 1 (the line is pulled up; QEMU's e1000 does the same).
/// </para>
/// <para>
/// Falling CS ends any command. Clock edges while CS is low are ignored. Every state is finite
/// and every step does bounded work; nothing the guest does can throw.
/// </para>
/// </remarks>
public sealed class MicrowireEeprom
{
    private enum Phase : byte { Standby, Start, Opcode, Address, Reading, WriteData, Done }
    private enum Program : byte { None, Write, WriteAll, Erase, EraseAll }

    private readonly EepromImage _image;
    private Phase _phase;
    private Program _pending;
    private bool _cs, _sk;
    private int _shift, _bits, _opcode, _address;
    private ushort _outWord, _data;
    private int _outBit;
    private bool _dataOut = true;
    private long _refusedPrograms;

    /// <summary>Serves <paramref name="image"/> with <paramref name="addressBits"/>-bit word addresses (93C46: 6, 93C56/93C66: 8).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Address width not 4..12.</exception>
    public MicrowireEeprom(EepromImage image, int addressBits)
    {
        _image = image ?? throw new ArgumentNullException(nameof(image));
        if (addressBits is < 4 or > 12) throw new ArgumentOutOfRangeException(nameof(addressBits));
        AddressBits = addressBits;
    }

    /// <summary>Width of the word address in a command.</summary>
    public int AddressBits { get; }

    /// <summary>The words the EEPROM holds; guest writes through the Microwire port change them here.</summary>
    public EepromImage Image => _image;

    /// <summary>The DO pin: the data bit being shifted out, or 1 when idle or ready.</summary>
    public bool DataOut => _dataOut;

    /// <summary>Whether EWEN has enabled programming (cleared by EWDS and on power-up).</summary>
    public bool WriteEnabled { get; private set; }

    /// <summary>Program commands ignored because programming was not enabled.</summary>
    public long RefusedPrograms => _refusedPrograms;

    /// <summary>
    /// The driver set the pins (a write of EECD or Cfg9346). DI is sampled when SK rises while CS
    /// is high; CS falling ends the command and starts a pending program cycle.
    /// </summary>
    public void SetPins(bool chipSelect, bool clock, bool dataIn)
    {
        if (!chipSelect)
        {
            if (_cs) EndCommand();
            _cs = false;
            _sk = clock;
            return;
        }
        if (!_cs)
        {
            // Rising CS selects the part; it is not a clock edge even if SK is high.
            _cs = true;
            _sk = clock;
            _phase = Phase.Start;
            _dataOut = true;
            return;
        }
        bool rising = clock && !_sk;
        _sk = clock;
        if (rising) Clock(dataIn);
    }

    /// <summary>Power-on state: deselected, programming disabled. The image is kept (it is non-volatile).</summary>
    public void Reset()
    {
        _cs = _sk = false;
        _phase = Phase.Standby;
        _pending = Program.None;
        _dataOut = true;
        WriteEnabled = false;
    }

    private void Clock(bool dataIn)
    {
        int bit = dataIn ? 1 : 0;
        switch (_phase)
        {
            case Phase.Start:
                if (bit == 1) { _phase = Phase.Opcode; _shift = 0; _bits = 0; }
                break;
            case Phase.Opcode:
                _shift = _shift << 1 | bit;
                if (++_bits == 2) { _opcode = _shift; _phase = Phase.Address; _shift = 0; _bits = 0; }
                break;
            case Phase.Address:
                _shift = _shift << 1 | bit;
                if (++_bits == AddressBits) { _address = _shift; Decode(); }
                break;
            case Phase.Reading:
                if (--_outBit < 0)
                {
                    _address = (_address + 1) & ((1 << AddressBits) - 1);
                    LoadWord();
                    _outBit = 15;
                }
                _dataOut = (_outWord >> _outBit & 1) != 0;
                break;
            case Phase.WriteData:
                _shift = _shift << 1 | bit;
                if (++_bits == 16) { _data = (ushort)_shift; _phase = Phase.Done; }
                break;
            default:
                break;  // Standby or Done: extra clocks are ignored.
        }
    }

    private void Decode()
    {
        _shift = 0;
        _bits = 0;
        switch (_opcode)
        {
            case 0b10:
                LoadWord();
                _outBit = 16;       // the next rising edge shifts out D15
                _dataOut = false;   // dummy zero after the last address bit
                _phase = Phase.Reading;
                break;
            case 0b01:
                _pending = Program.Write;
                _phase = Phase.WriteData;
                break;
            case 0b11:
                _pending = Program.Erase;
                _phase = Phase.Done;
                break;
            default:
                switch (_address >> (AddressBits - 2))
                {
                    case 0b11: WriteEnabled = true; _phase = Phase.Done; break;
                    case 0b00: WriteEnabled = false; _phase = Phase.Done; break;
                    case 0b01: _pending = Program.WriteAll; _phase = Phase.WriteData; break;
                    default: _pending = Program.EraseAll; _phase = Phase.Done; break;
                }
                break;
        }
    }

    private void LoadWord()
    {
        // A part larger than the image mirrors it; a smaller one never sees high addresses.
        _image.TryRead(_address % _image.WordCount, out _outWord);
    }

    private void EndCommand()
    {
        // Programming starts on the falling edge of CS after a complete command (93C46 datasheets).
        bool complete = _phase == Phase.Done;
        if (complete && _pending != Program.None)
        {
            if (!WriteEnabled) _refusedPrograms++;
            else
            {
                var words = _image.Words;
                int index = _address % _image.WordCount;
                switch (_pending)
                {
                    case Program.Write: words[index] = _data; break;
                    case Program.Erase: words[index] = 0xFFFF; break;
                    case Program.WriteAll: words.Fill(_data); break;
                    case Program.EraseAll: words.Fill(0xFFFF); break;
                }
            }
        }
        _pending = Program.None;
        _phase = Phase.Standby;
        _dataOut = true;
    }
}
