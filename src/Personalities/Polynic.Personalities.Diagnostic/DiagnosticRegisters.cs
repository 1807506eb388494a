namespace Polynic.Personalities.Diagnostic;

/// <summary>
/// Register map of BAR 0 of the diagnostic function (all registers 32 bits, little endian).
/// Documented in README.md, section "The diagnostic function".
/// </summary>
public static class DiagnosticRegisters
{
    /// <summary>RO: <see cref="DiagnosticDevice.Magic"/>, "POLY".</summary>
    public const int Magic = 0x00;
    /// <summary>RO: register map version.</summary>
    public const int Version = 0x04;
    /// <summary>RW: scratch, no side effects.</summary>
    public const int Scratch = 0x08;
    /// <summary>RO: bit n set while interrupt source n is raised.</summary>
    public const int InterruptStatus = 0x0C;
    /// <summary>WO: writing n raises interrupt source n (INTx, or MSI/MSI-X vector n).</summary>
    public const int InterruptRaise = 0x10;
    /// <summary>W1C: writing bit n lowers source n.</summary>
    public const int InterruptAcknowledge = 0x14;
    /// <summary>RO: number of raise commands accepted since reset.</summary>
    public const int InterruptCount = 0x18;
    /// <summary>RW: guest-physical address of the DMA buffer, low 32 bits.</summary>
    public const int DmaAddressLow = 0x20;
    /// <summary>RW: guest-physical address of the DMA buffer, high 32 bits.</summary>
    public const int DmaAddressHigh = 0x24;
    /// <summary>RW: DMA length in bytes, at most <see cref="DiagnosticDevice.MaxDmaLength"/>.</summary>
    public const int DmaLength = 0x28;
    /// <summary>RW: seed of the pattern written by <see cref="DmaCommandWritePattern"/>.</summary>
    public const int DmaSeed = 0x2C;
    /// <summary>WO: a DMA command; it completes before the write returns.</summary>
    public const int DmaCommand = 0x30;
    /// <summary>RO: <see cref="DmaStatusDone"/> and/or <see cref="DmaStatusError"/> of the last command.</summary>
    public const int DmaStatus = 0x34;
    /// <summary>RO: FNV-1a checksum computed by <see cref="DmaCommandChecksum"/>.</summary>
    public const int DmaChecksum = 0x38;
    /// <summary>RO: DMA commands refused (bad address, length, bus mastering off).</summary>
    public const int DmaErrorCount = 0x3C;

    /// <summary>Command: write the seeded pattern to the buffer.</summary>
    public const uint DmaCommandWritePattern = 1;
    /// <summary>Command: read the buffer and compute its checksum.</summary>
    public const uint DmaCommandChecksum = 2;
    /// <summary>Status: the last command finished.</summary>
    public const uint DmaStatusDone = 1;
    /// <summary>Status: the last command failed.</summary>
    public const uint DmaStatusError = 2;
}
