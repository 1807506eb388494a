namespace Contoso.SkeletonNic;

/// <summary>
/// The register map of BAR 0 (4 KiB of memory space). Registers are 32 bits wide and little
/// endian; a driver should access them with aligned dword reads and writes.
/// </summary>
/// <remarks>
/// <code>
/// 0x000  ID           RO   0x534B4E31, identifies this register layout
/// 0x004  CONTROL      RW   bit 0 receiver on, bit 1 promiscuous, bit 31 reset (self-clearing)
/// 0x008  STATUS       RO   bit 0 link up (the port has carrier), bit 1 a frame waits in the receive buffer
/// 0x00C  INT_CAUSE    W1C  events: bit 0 transmitted, bit 1 received, bit 2 link changed, bit 3 transmit error
/// 0x010  INT_MASK     RW   causes that assert INTA#
/// 0x014  TX_LENGTH    RW   writing n sends the first n bytes of the transmit buffer as one frame
/// 0x018  RX_LENGTH    RO   length of the frame in the receive buffer, 0 if empty; any write frees the buffer
/// 0x020  MAC_LOW      RO   station address bytes 0..3
/// 0x024  MAC_HIGH     RO   station address bytes 4..5
/// 0x028  SCRATCH      RW   no side effects (drivers use it to check the BAR is mapped)
/// 0x400  TX_BUFFER    WO   1536 bytes: the frame to send (destination MAC first, no FCS)
/// 0xA00  RX_BUFFER    RO   1536 bytes: the frame received
/// </code>
/// </remarks>
public static class SkeletonNicRegisters
{
    /// <summary>Size of BAR 0 in bytes.</summary>
    public const int BarSize = 0x1000;

    /// <summary>Bytes of BAR 0 holding registers; the buffers follow.</summary>
    public const int RegisterSpace = 0x400;

    /// <summary>ID register: reads <see cref="IdValue"/>.</summary>
    public const uint Id = 0x000;

    /// <summary>Control register: receiver on, promiscuous, reset.</summary>
    public const uint Control = 0x004;

    /// <summary>Status register: link and receive buffer state.</summary>
    public const uint Status = 0x008;

    /// <summary>Interrupt cause register; writing 1 to a bit acknowledges that event.</summary>
    public const uint InterruptCause = 0x00C;

    /// <summary>Interrupt mask register: the causes that may assert the interrupt line.</summary>
    public const uint InterruptMask = 0x010;

    /// <summary>Transmit length register; a write sends a frame from the transmit buffer.</summary>
    public const uint TxLength = 0x014;

    /// <summary>Receive length register; a write hands the receive buffer back to the device.</summary>
    public const uint RxLength = 0x018;

    /// <summary>Station address, bytes 0 to 3 (byte 0 in bits 7:0).</summary>
    public const uint MacLow = 0x020;

    /// <summary>Station address, bytes 4 and 5 in bits 15:0.</summary>
    public const uint MacHigh = 0x024;

    /// <summary>Scratch register, read/write with no side effects.</summary>
    public const uint Scratch = 0x028;

    /// <summary>Start of the transmit buffer in BAR 0.</summary>
    public const uint TxBuffer = 0x400;

    /// <summary>Start of the receive buffer in BAR 0.</summary>
    public const uint RxBuffer = 0xA00;

    /// <summary>Size of each of the two frame buffers.</summary>
    public const int BufferSize = 1536;

    /// <summary>What the ID register reads: "SKN1" in ASCII, most significant byte first.</summary>
    public const uint IdValue = 0x534B_4E31;

    /// <summary>CONTROL: the receiver takes frames from the port.</summary>
    public const uint ControlReceiverOn = 1u << 0;

    /// <summary>CONTROL: accept unicast frames for any address.</summary>
    public const uint ControlPromiscuous = 1u << 1;

    /// <summary>CONTROL: writing 1 resets the device to its power-on state; reads 0.</summary>
    public const uint ControlReset = 1u << 31;

    /// <summary>STATUS: the port has carrier.</summary>
    public const uint StatusLinkUp = 1u << 0;

    /// <summary>STATUS: a frame waits in the receive buffer.</summary>
    public const uint StatusReceiveFull = 1u << 1;

    /// <summary>INT_CAUSE: a frame was handed to the port.</summary>
    public const uint CauseTransmitted = 1u << 0;

    /// <summary>INT_CAUSE: a frame was stored in the receive buffer.</summary>
    public const uint CauseReceived = 1u << 1;

    /// <summary>INT_CAUSE: the port's carrier came or went.</summary>
    public const uint CauseLinkChanged = 1u << 2;

    /// <summary>INT_CAUSE: a TX_LENGTH write was refused (too short or too long) or the port dropped the frame.</summary>
    public const uint CauseTransmitError = 1u << 3;

    /// <summary>Every INT_CAUSE bit the device sets.</summary>
    public const uint AllCauses = CauseTransmitted | CauseReceived | CauseLinkChanged | CauseTransmitError;
}
