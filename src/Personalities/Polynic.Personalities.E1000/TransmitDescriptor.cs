using System.Buffers.Binary;

namespace Polynic.Personalities.E1000;

/// <summary>
/// One 16-byte transmit descriptor as read from the ring (8254x SDM 3.3.2-3.3.4): legacy
/// (DEXT = 0), context (DEXT = 1, DTYP = 0) or data (DEXT = 1, DTYP = 1). Parsing only; no policy.
/// </summary>
internal readonly struct TransmitDescriptor
{
    /// <summary>Descriptor size in bytes.</summary>
    public const int Size = 16;

#pragma warning disable CS1591
    // Command bits, as bits of the second dword (CMD/DCMD/TUCMD is its top byte).
    public const uint CmdEop = 1u << 24;       // legacy/data; context: TCP
    public const uint CmdIfcs = 1u << 25;      // legacy/data; context: IP
    public const uint CmdIc = 1u << 26;        // legacy: insert checksum; data/context: TSE
    public const uint CmdRs = 1u << 27;
    public const uint CmdRps = 1u << 28;
    public const uint CmdDext = 1u << 29;
    public const uint CmdVle = 1u << 30;
    public const uint CmdIde = 1u << 31;
    public const uint CmdTse = CmdIc;
    public const uint ContextTcp = CmdEop;
    public const uint ContextIp = CmdIfcs;
    public const uint DtypData = 1u << 20;
    public const uint DtypMask = 0xFu << 20;

    // Status (low nibble of the upper dword).
    public const uint StatusDd = 1u << 0;
    public const uint StatusMask = 0xFu;

    // POPTS (byte 13 of a data descriptor).
    public const byte PoptsIxsm = 1 << 0;
    public const byte PoptsTxsm = 1 << 1;
#pragma warning restore CS1591

    public TransmitDescriptor(ReadOnlySpan<byte> raw)
    {
        Address = BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Lower = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
        Upper = BinaryPrimitives.ReadUInt32LittleEndian(raw[12..]);
    }

    /// <summary>Buffer address (legacy, data) or the checksum context fields (context).</summary>
    public ulong Address { get; }

    /// <summary>Second dword: length, CSO or DTYP, command byte.</summary>
    public uint Lower { get; }

    /// <summary>Third dword: status, CSS or POPTS or HDRLEN, VLAN SPECIAL or MSS.</summary>
    public uint Upper { get; }

    public bool IsExtended => (Lower & CmdDext) != 0;
    public bool IsContext => IsExtended && (Lower & DtypMask) == 0;
    public bool IsData => IsExtended && (Lower & DtypMask) == DtypData;

    /// <summary>Buffer length: 16 bits for legacy, 20 bits for data descriptors.</summary>
    public int Length => (int)(IsExtended ? Lower & 0xF_FFFF : Lower & 0xFFFF);

    public bool EndOfPacket => (Lower & CmdEop) != 0;
    public bool ReportStatus => (Lower & (CmdRs | CmdRps)) != 0;
    public bool DelayInterrupt => (Lower & CmdIde) != 0;
    public bool InsertVlan => (Lower & CmdVle) != 0;
    public bool Segment => (Lower & CmdTse) != 0;

    /// <summary>Legacy: insert a checksum at CSO, summing from CSS.</summary>
    public bool LegacyInsertChecksum => (Lower & CmdIc) != 0;
    public byte LegacyChecksumOffset => (byte)(Lower >> 16);
    public byte LegacyChecksumStart => (byte)(Upper >> 8);

    /// <summary>Data descriptor POPTS (IXSM, TXSM).</summary>
    public byte Options => (byte)(Upper >> 8);

    /// <summary>VLAN tag control information to insert (legacy and data descriptors).</summary>
    public ushort Special => (ushort)(Upper >> 16);
}

/// <summary>
/// The offload context a context descriptor sets (8254x SDM 3.3.6): where the IP and TCP/UDP
/// checksums start, go and end, and for TSO the payload length, header length and MSS.
/// </summary>
internal readonly record struct TransmitContext(
    byte IpStart, byte IpOffset, ushort IpEnd,
    byte TransportStart, byte TransportOffset, ushort TransportEnd,
    int PayloadLength, bool Tcp, bool IPv4, bool Segmentation,
    byte HeaderLength, ushort Mss)
{
    public static TransmitContext From(in TransmitDescriptor d)
    {
        ulong a = d.Address;
        return new TransmitContext(
            IpStart: (byte)a, IpOffset: (byte)(a >> 8), IpEnd: (ushort)(a >> 16),
            TransportStart: (byte)(a >> 32), TransportOffset: (byte)(a >> 40), TransportEnd: (ushort)(a >> 48),
            PayloadLength: (int)(d.Lower & 0xF_FFFF),
            Tcp: (d.Lower & TransmitDescriptor.ContextTcp) != 0,
            IPv4: (d.Lower & TransmitDescriptor.ContextIp) != 0,
            Segmentation: (d.Lower & TransmitDescriptor.CmdTse) != 0,
            HeaderLength: (byte)(d.Upper >> 8),
            Mss: (ushort)(d.Upper >> 16));
    }
}
