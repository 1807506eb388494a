using System.Buffers.Binary;

namespace Polynic.Soak.Hostile;

/// <summary>
/// Makes the attacked e1000 read guest memory on demand: a legacy transmit ring of 8
/// descriptors at the start of a window, one broadcast frame at +0x1000 (Intel 8254x SDM,
/// section 3.3 legacy transmit descriptor; section 13 registers). Each <see cref="KickAsync"/>
/// hands the device one descriptor, so it DMA-reads the descriptor and the frame and writes the
/// status back: exactly the DMA the window's owner (truncated memfd, slow or silent client) hurts.
/// </summary>
internal static class E1000Transmit
{
    private const ulong Tctl = 0x400, Tdbal = 0x3800, Tdbah = 0x3804, Tdlen = 0x3808, Tdh = 0x3810, Tdt = 0x3818;
    private const uint TctlEnable = 1 << 1, TctlPadShortPackets = 1 << 3;
    private const int Descriptors = 8, FrameOffset = 0x1000, FrameLength = 60;
    private const byte CmdEop = 0x01, CmdIfcs = 0x02, CmdReportStatus = 0x08;

    /// <summary>Bytes of the window the ring and frame use.</summary>
    public const int WindowBytes = 0x2000;

    /// <summary>Writes the ring (all descriptors pointing at the frame) and the frame into <paramref name="window"/> (mapped at <paramref name="address"/>).</summary>
    public static void Fill(Span<byte> window, ulong address)
    {
        for (int i = 0; i < Descriptors; i++)
        {
            var d = window.Slice(i * 16, 16);
            d.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(d, address + FrameOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(d[8..], FrameLength);
            d[11] = CmdEop | CmdIfcs | CmdReportStatus;
        }
        var frame = window.Slice(FrameOffset, FrameLength);
        frame.Clear();
        frame[..6].Fill(0xFF);                                         // broadcast
        new byte[] { 0x52, 0x54, 0x00, 0x5E, 0xEE, 0x01 }.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x88B5);    // IEEE local experimental EtherType
        "polynic soak: hostile client frame"u8.CopyTo(frame[14..]);
    }

    /// <summary>Turns on memory decoding and bus mastering, then programs and enables the ring at <paramref name="address"/>.</summary>
    public static async Task<bool> ProgramAsync(AttackerConnection c, ulong address, TimeSpan timeout)
    {
        return await c.WriteAsync(WireMessage.ConfigRegion, 4, 0x0006, timeout, width: 2)
            && await c.WriteAsync(0, Tdbal, (uint)address, timeout)
            && await c.WriteAsync(0, Tdbah, (uint)(address >> 32), timeout)
            && await c.WriteAsync(0, Tdlen, Descriptors * 16, timeout)
            && await c.WriteAsync(0, Tdh, 0, timeout)
            && await c.WriteAsync(0, Tdt, 0, timeout)
            && await c.WriteAsync(0, Tctl, TctlEnable | TctlPadShortPackets, timeout);
    }

    /// <summary>Gives the device descriptor <paramref name="index"/> (tail moves past it); false if the write got no reply in time.</summary>
    public static Task<bool> KickAsync(AttackerConnection c, int index, TimeSpan timeout) =>
        c.WriteAsync(0, Tdt, (uint)((index + 1) % Descriptors), timeout);
}
