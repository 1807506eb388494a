namespace Polynic.Core.Nic.Eeprom;

/// <summary>
/// Contents of a NIC's serial EEPROM as 16-bit words (the x16 organisation of 93Cx6 parts):
/// MAC address, IDs, configuration words and, for Intel parts, a checksum word.
/// </summary>
/// <remarks>Index arguments from the guest are range-checked: reads outside the image fail, writes are ignored.</remarks>
public sealed class EepromImage
{
    private readonly ushort[] _words;

    /// <summary>Creates an image of <paramref name="wordCount"/> words (1..65536), all 0xFFFF like an erased part.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Size out of range.</exception>
    public EepromImage(int wordCount)
    {
        if (wordCount is < 1 or > 65536) throw new ArgumentOutOfRangeException(nameof(wordCount));
        _words = new ushort[wordCount];
        _words.AsSpan().Fill(0xFFFF);
    }

    /// <summary>Capacity in 16-bit words (64 for a 93C46, 256 for a 93C66).</summary>
    public int WordCount => _words.Length;

    /// <summary>The words, as a live view (for building the image and saving it).</summary>
    public Span<ushort> Words => _words;

    /// <summary>Word <paramref name="index"/>; false (and 0xFFFF) outside the image.</summary>
    public bool TryRead(int index, out ushort value)
    {
        if ((uint)index >= (uint)_words.Length) { value = 0xFFFF; return false; }
        value = _words[index];
        return true;
    }

    /// <summary>Sets word <paramref name="index"/>; false (nothing changes) outside the image.</summary>
    public bool TryWrite(int index, ushort value)
    {
        if ((uint)index >= (uint)_words.Length) return false;
        _words[index] = value;
        return true;
    }

    /// <summary>
    /// Stores <paramref name="address"/> in three words from <paramref name="firstWord"/>, each word
    /// holding two address bytes little-endian (8254x manual, EEPROM words 00h-02h: word 0 = bytes 1:0; RTL8139
    /// words 7..9, read by 8139too as le16).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The three words do not fit (a personality's bug).</exception>
    public void SetMacAddress(int firstWord, MacAddress address)
    {
        if (firstWord < 0 || firstWord + 3 > _words.Length) throw new ArgumentOutOfRangeException(nameof(firstWord));
        for (int i = 0; i < 3; i++) _words[firstWord + i] = (ushort)(address[2 * i] | address[2 * i + 1] << 8);
    }

    /// <summary>The address stored by <see cref="SetMacAddress"/>; <see cref="MacAddress.Zero"/> if the words do not fit.</summary>
    public MacAddress GetMacAddress(int firstWord)
    {
        if (firstWord < 0 || firstWord + 3 > _words.Length) return MacAddress.Zero;
        Span<byte> b = stackalloc byte[6];
        for (int i = 0; i < 3; i++)
        {
            b[2 * i] = (byte)_words[firstWord + i];
            b[2 * i + 1] = (byte)(_words[firstWord + i] >> 8);
        }
        return new MacAddress(b);
    }

    /// <summary>
    /// Sets word <paramref name="checksumWord"/> so that the 16-bit sum of words 0..checksumWord
    /// equals <paramref name="sum"/> (Intel 8254x: word 0x3F, sum 0xBABA, 8254x manual EEPROM checksum word 3Fh and
    /// Linux e1000_validate_eeprom_checksum).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The word is outside the image.</exception>
    public void UpdateChecksum(int checksumWord, ushort sum)
    {
        if ((uint)checksumWord >= (uint)_words.Length) throw new ArgumentOutOfRangeException(nameof(checksumWord));
        ushort partial = 0;
        for (int i = 0; i < checksumWord; i++) partial += _words[i];
        _words[checksumWord] = (ushort)(sum - partial);
    }

    /// <summary>Whether words 0..<paramref name="checksumWord"/> sum to <paramref name="sum"/>; false if the word is outside the image.</summary>
    public bool ChecksumMatches(int checksumWord, ushort sum)
    {
        if ((uint)checksumWord >= (uint)_words.Length) return false;
        ushort total = 0;
        for (int i = 0; i <= checksumWord; i++) total += _words[i];
        return total == sum;
    }

    /// <summary>
    /// Serves an EERD-style "read a word through a register" request: when the start bit of
    /// <paramref name="request"/> is set, returns it with the word's data and the done bit filled in;
    /// otherwise returns it unchanged. An address outside the image completes with the data bits
    /// left as written (QEMU e1000 sets only DONE). Never throws.
    /// </summary>
    public uint ServeReadRegister(uint request, in EepromReadRegisterLayout layout)
    {
        if ((request & 1u << layout.StartBit) == 0) return request;
        int address = (int)((request >> layout.AddressShift) & ((1u << layout.AddressBits) - 1));
        uint done = request | 1u << layout.DoneBit;
        if (!TryRead(address, out ushort data)) return done;
        return (done & ~(0xFFFFu << layout.DataShift)) | (uint)data << layout.DataShift;
    }
}

/// <summary>Bit layout of an EERD-style EEPROM read register.</summary>
/// <param name="StartBit">Bit the driver sets to start a read.</param>
/// <param name="DoneBit">Bit the device sets when the data is valid.</param>
/// <param name="AddressShift">Lowest bit of the word address field.</param>
/// <param name="AddressBits">Width of the word address field.</param>
/// <param name="DataShift">Lowest bit of the 16-bit data field.</param>
public readonly record struct EepromReadRegisterLayout(int StartBit, int DoneBit, int AddressShift, int AddressBits, int DataShift)
{
    /// <summary>82540/82545 EERD at 0x00014 (8254x manual; the layout Linux e1000_hw.h and QEMU e1000 use): START bit 0, DONE bit 4, ADDR bits 15:8, DATA bits 31:16.</summary>
    public static EepromReadRegisterLayout Intel82540 => new(0, 4, 8, 8, 16);
}
