using Polynic.Core.Nic;
using Polynic.Core.Nic.Eeprom;

namespace Polynic.Core.Tests.Nic;

public class EepromTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:12:34:56");

    private static EepromImage E1000Image()
    {
        var image = new EepromImage(64);
        image.Words.Clear();
        image.SetMacAddress(0, Mac);
        image.Words[0x0A] = 0x64C0;     // an init-control word, so the checksum is not trivial
        image.UpdateChecksum(0x3F, 0xBABA);
        return image;
    }

    [Fact]
    public void Mac_words_are_little_endian_byte_pairs_and_checksum_sums_to_babA()
    {
        var image = E1000Image();
        Assert.Equal(new ushort[] { 0x5452, 0x1200, 0x5634 }, image.Words[..3].ToArray());
        Assert.Equal(Mac, image.GetMacAddress(0));
        ushort sum = 0;
        foreach (ushort w in image.Words) sum += w;
        Assert.Equal(0xBABA, sum);
        Assert.True(image.ChecksumMatches(0x3F, 0xBABA));
        image.Words[5] ^= 1;
        Assert.False(image.ChecksumMatches(0x3F, 0xBABA));
        Assert.False(image.ChecksumMatches(64, 0xBABA));
    }

    [Fact]
    public void Eerd_request_returns_data_and_done_in_the_82540_layout()
    {
        var image = E1000Image();
        var layout = EepromReadRegisterLayout.Intel82540;
        Assert.Equal(0x0000_0100u, image.ServeReadRegister(0x0000_0100, layout));           // no START: unchanged
        Assert.Equal(0x5634_0211u, image.ServeReadRegister(0x0000_0201, layout));           // word 2, DONE, data
        Assert.Equal(0x0000_FF11u, image.ServeReadRegister(0x0000_FF01, layout));           // beyond the image: DONE only
        Assert.False(image.TryRead(-1, out _));
        Assert.False(image.TryWrite(64, 1));
    }

    [Fact]
    public void E1000_driver_reads_word_zero_msb_first_after_a_dummy_zero()
    {
        var driver = new E1000EecdDriver(new MicrowireEeprom(E1000Image(), addressBits: 6));
        var bits = new List<int>();
        ushort word = driver.ReadWord(0, bits);
        Assert.Equal(0x5452, word);
        Assert.Equal([0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0], bits);
        Assert.True(driver.DummyZeroSeen);
    }

    [Fact]
    public void E1000_driver_reads_the_whole_image_and_the_checksum_validates()
    {
        var driver = new E1000EecdDriver(new MicrowireEeprom(E1000Image(), 6));
        ushort sum = 0;
        for (int i = 0; i <= 0x3F; i++) sum += driver.ReadWord(i, null);
        Assert.Equal(0xBABA, sum);
        Assert.Equal(0x5634, driver.ReadWord(2, null));
    }

    [Fact]
    public void E1000_driver_write_needs_ewen_and_completes_with_do_high()
    {
        var eeprom = new MicrowireEeprom(E1000Image(), 6);
        var driver = new E1000EecdDriver(eeprom);
        Assert.True(driver.WriteWord(0x10, 0xBEEF, enable: false));
        Assert.Equal(0u, eeprom.Image.Words[0x10]);
        Assert.Equal(1, eeprom.RefusedPrograms);
        Assert.True(driver.WriteWord(0x10, 0xBEEF, enable: true));
        Assert.Equal(0xBEEF, eeprom.Image.Words[0x10]);
        Assert.False(eeprom.WriteEnabled);   // EWDS at the end
        Assert.Equal(0xBEEF, driver.ReadWord(0x10, null));
    }

    [Fact]
    public void Rtl8139_probe_with_8_address_bits_sees_shifted_data_on_a_93c46_and_true_data_on_a_93c56()
    {
        var image = new EepromImage(64);
        image.Words[0] = 0x8129;
        image.Words[1] = 0x10EC;
        image.SetMacAddress(7, Mac);
        var small = new Rtl8139Cfg9346Driver(new MicrowireEeprom(image, 6));
        // 8139too: addr_len = read_eeprom(ioaddr, 0, 8) == 0x8129 ? 8 : 6.
        ushort probe = small.Read(0, 8);
        Assert.Equal(unchecked((ushort)(0x8129 << 2 | 0x10EC >> 14)), probe);
        Assert.NotEqual(0x8129, probe);
        Assert.Equal(0x8129, small.Read(0, 6));
        Assert.Equal(new ushort[] { 0x5452, 0x1200, 0x5634 }, new[] { small.Read(7, 6), small.Read(8, 6), small.Read(9, 6) });

        var big = new Rtl8139Cfg9346Driver(new MicrowireEeprom(image, 8));
        Assert.Equal(0x8129, big.Read(0, 8));
    }

    [Fact]
    public void Sequential_read_continues_into_the_next_word()
    {
        var image = new EepromImage(64);
        image.Words[5] = 0x1234;
        image.Words[6] = 0xABCD;
        var e = new MicrowireEeprom(image, 6);
        e.SetPins(true, false, false);
        foreach (int b in new[] { 1, 1, 0, 0, 0, 0, 1, 0, 1 }) Clock(e, b);
        uint value = 0;
        for (int i = 0; i < 32; i++) { Clock(e, 0); value = value << 1 | (e.DataOut ? 1u : 0); }
        Assert.Equal(0x1234_ABCDu, value);
    }

    [Fact]
    public void Random_pin_noise_never_throws_and_deselect_returns_do_high()
    {
        var image = E1000Image();
        var e = new MicrowireEeprom(image, 6);
        var rng = new Random(42);
        for (int i = 0; i < 200_000; i++) e.SetPins(rng.Next(8) != 0, rng.Next(2) == 0, rng.Next(2) == 0);
        e.SetPins(false, false, false);
        Assert.True(e.DataOut);
        Assert.Equal(64, image.WordCount);
    }

    private static void Clock(MicrowireEeprom e, int bit)
    {
        e.SetPins(true, false, bit == 1);
        e.SetPins(true, true, bit == 1);
    }

    /// <summary>
    /// The pin sequence of Linux e1000_hw.c for a microwire EEPROM (e1000_acquire_eeprom,
    /// e1000_shift_out_ee_bits, e1000_shift_in_ee_bits, e1000_standby_eeprom, e1000_release_eeprom,
    /// e1000_write_eeprom_microwire), on an EECD whose SK/CS/DI/DO bits are 0x1/0x2/0x4/0x8.
    /// </summary>
    private sealed class E1000EecdDriver(MicrowireEeprom eeprom)
    {
        private const uint Sk = 0x1, Cs = 0x2, Di = 0x4, Do = 0x8;
        private uint _eecd;

        public bool DummyZeroSeen { get; private set; }

        private void Write(uint value)
        {
            _eecd = value & ~Do;
            eeprom.SetPins((value & Cs) != 0, (value & Sk) != 0, (value & Di) != 0);
        }

        private uint Read() => _eecd | (eeprom.DataOut ? Do : 0);

        private void Acquire() { Write(_eecd & ~(Di | Sk)); Write(_eecd | Cs); }

        private void ShiftOut(uint data, int count)
        {
            uint eecd = Read() & ~Do;
            for (uint mask = 1u << (count - 1); mask != 0; mask >>= 1)
            {
                eecd &= ~Di;
                if ((data & mask) != 0) eecd |= Di;
                Write(eecd);
                Write(eecd |= Sk);
                Write(eecd &= ~Sk);
            }
            Write(eecd & ~Di);
        }

        private ushort ShiftIn(int count, List<int>? bits)
        {
            uint eecd = Read() & ~(Do | Di);
            ushort data = 0;
            for (int i = 0; i < count; i++)
            {
                data = (ushort)(data << 1);
                Write(eecd |= Sk);
                eecd = Read() & ~Di;
                int bit = (eecd & Do) != 0 ? 1 : 0;
                data |= (ushort)bit;
                bits?.Add(bit);
                Write(eecd &= ~Sk);
            }
            return data;
        }

        private void Standby()
        {
            uint eecd = Read() & ~(Cs | Sk);
            Write(eecd);
            Write(eecd |= Sk);
            Write(eecd |= Cs);
            Write(eecd & ~Sk);
        }

        private void Release()
        {
            uint eecd = Read() & ~(Cs | Di);
            Write(eecd);
            Write(eecd |= Sk);
            Write(eecd & ~Sk);
        }

        public ushort ReadWord(int offset, List<int>? bits)
        {
            Acquire();
            ShiftOut(0b110, 3);
            ShiftOut((uint)offset, 6);
            DummyZeroSeen = !eeprom.DataOut;
            ushort word = ShiftIn(16, bits);
            Standby();
            Release();
            return word;
        }

        public bool WriteWord(int offset, ushort data, bool enable)
        {
            Acquire();
            if (enable) { ShiftOut(0x13, 5); ShiftOut(0, 4); Standby(); }
            ShiftOut(0b101, 3);
            ShiftOut((uint)offset, 6);
            ShiftOut(data, 16);
            Standby();
            bool ready = false;
            for (int i = 0; i < 200 && !ready; i++) ready = (Read() & Do) != 0;
            Standby();
            ShiftOut(0x10, 5);
            ShiftOut(0, 4);
            Release();
            return ready;
        }
    }

    /// <summary>8139too read_eeprom on Cfg9346 (EE_CS 0x08, EE_SHIFT_CLK 0x04, EE_DATA_WRITE 0x02, EE_DATA_READ 0x01, EE_ENB 0x88).</summary>
    private sealed class Rtl8139Cfg9346Driver(MicrowireEeprom eeprom)
    {
        private const int Cs = 0x08, Clk = 0x04, DataWrite = 0x02, Enable = 0x80 | Cs;

        private void W8(int v) => eeprom.SetPins((v & Cs) != 0, (v & Clk) != 0, (v & DataWrite) != 0);

        private int R8() => eeprom.DataOut ? 1 : 0;

        public ushort Read(int location, int addrLen)
        {
            int readCmd = location | (6 << addrLen);
            W8(Enable & ~Cs);
            W8(Enable);
            for (int i = 4 + addrLen; i >= 0; i--)
            {
                int dataval = (readCmd & (1 << i)) != 0 ? DataWrite : 0;
                W8(Enable | dataval);
                W8(Enable | dataval | Clk);
            }
            W8(Enable);
            int retval = 0;
            for (int i = 16; i > 0; i--)
            {
                W8(Enable | Clk);
                retval = (retval << 1) | R8();
                W8(Enable);
            }
            W8(0);
            return (ushort)retval;
        }
    }
}
