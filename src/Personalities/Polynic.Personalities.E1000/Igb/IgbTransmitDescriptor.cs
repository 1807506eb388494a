using System.Buffers.Binary;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// One 16-byte transmit descriptor of the 82576 as read from the ring (datasheet 7.2.2): legacy
/// (DEXT = 0, the 8254x layout), advanced context (DEXT = 1, DTYP = 2) or advanced data (DEXT = 1,
/// DTYP = 3). Parsing only; no policy.
/// </summary>
internal readonly struct IgbTransmitDescriptor
{
    public const int Size = 16;

#pragma warning disable CS1591
    // cmd_type_len (dword 2)
    public const uint CmdEop = 1u << 24;
    public const uint CmdIfcs = 1u << 25;
    public const uint CmdIc = 1u << 26;      // legacy: insert checksum at CSO
    public const uint CmdRs = 1u << 27;
    public const uint CmdDext = 1u << 29;
    public const uint CmdVle = 1u << 30;
    public const uint CmdTse = 1u << 31;     // advanced data
    public const uint DtypContext = 2;
    public const uint DtypData = 3;

    // olinfo_status (dword 3) of an advanced data descriptor
    public const uint OlinfoIxsm = 1u << 8;
    public const uint OlinfoTxsm = 1u << 9;

    // Status written back (low nibble of dword 3)
    public const uint StatusDd = 1u << 0;
    public const uint StatusMask = 0xFu;
#pragma warning restore CS1591

    public IgbTransmitDescriptor(ReadOnlySpan<byte> raw)
    {
        Address = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        CommandTypeLength = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
        Upper = BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]);
    }

    /// <summary>Buffer address (legacy, data), or vlan_macip_lens | seqnum_seed &lt;&lt; 32 (context).</summary>
    public ulong Address { get; }

    /// <summary>Dword 2: cmd_type_len (legacy: length, CSO, CMD; context: type_tucmd_mlhl).</summary>
    public uint CommandTypeLength { get; }

    /// <summary>Dword 3: olinfo_status (data), mss_l4len_idx (context), STA/CSS/VLAN (legacy).</summary>
    public uint Upper { get; }

    public bool IsAdvanced => (CommandTypeLength & CmdDext) != 0;
    public uint Type => (CommandTypeLength >> 20) & 0xF;
    public bool IsContext => IsAdvanced && Type == DtypContext;
    public bool IsData => IsAdvanced && Type == DtypData;

    /// <summary>Buffer length: 16 bits in both legacy and advanced data descriptors.</summary>
    public int Length => (int)(CommandTypeLength & 0xFFFF);
    public bool EndOfPacket => (CommandTypeLength & CmdEop) != 0;
    public bool ReportStatus => (CommandTypeLength & CmdRs) != 0;
    public bool InsertVlan => (CommandTypeLength & CmdVle) != 0;
    public bool Segment => IsData && (CommandTypeLength & CmdTse) != 0;

    /// <summary>Advanced data: the context slot (IDX, olinfo bits 6:4; the 82576 has two per queue).</summary>
    public int ContextIndex => (int)(Upper >> 4) & 1;

    /// <summary>Legacy: CSO, CSS and the VLAN tag.</summary>
    public byte LegacyChecksumOffset => (byte)(CommandTypeLength >> 16);
    public byte LegacyChecksumStart => (byte)(Upper >> 8);
    public ushort LegacyVlan => (ushort)(Upper >> 16);
}

/// <summary>
/// What an advanced context descriptor sets (datasheet 7.2.2.2): MACLEN, IPLEN and the VLAN tag
/// (vlan_macip_lens), IPv4 and the L4 type (TUCMD), MSS and L4LEN for TSO (mss_l4len_idx).
/// </summary>
internal readonly record struct IgbTransmitContext(int MacLength, int IpLength, ushort Vlan, bool IPv4, int L4Type, int L4Length, ushort Mss)
{
    /// <summary>TUCMD.L4T values.</summary>
    public const int L4Udp = 0, L4Tcp = 1, L4Sctp = 2;

    public static IgbTransmitContext From(in IgbTransmitDescriptor d)
    {
        uint vlanMacIp = (uint)d.Address, tucmd = d.CommandTypeLength, mssL4 = d.Upper;
        return new IgbTransmitContext(
            MacLength: (int)(vlanMacIp >> 9) & 0x7F,
            IpLength: (int)vlanMacIp & 0x1FF,
            Vlan: (ushort)(vlanMacIp >> 16),
            IPv4: (tucmd & (1u << 10)) != 0,
            L4Type: (int)(tucmd >> 11) & 3,
            L4Length: (int)(mssL4 >> 8) & 0xFF,
            Mss: (ushort)(mssL4 >> 16));
    }

    /// <summary>Where the L4 header starts.</summary>
    public int L4Start => MacLength + IpLength;

    /// <summary>Headers a TSO segment repeats.</summary>
    public int HeaderLength => MacLength + IpLength + L4Length;
}
