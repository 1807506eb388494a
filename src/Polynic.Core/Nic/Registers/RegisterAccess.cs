namespace Polynic.Core.Nic.Registers;

/// <summary>
/// How a 32-bit register answers guest reads and writes. The write mask of the declaration
/// (<see cref="RegisterSpec.WriteMask"/>) says which bits the rule applies to; bits outside it
/// keep their value on writes.
/// </summary>
public enum RegisterAccess
{
    /// <summary>Reads return the value; writes store the bits inside the write mask.</summary>
    ReadWrite,

    /// <summary>Reads return the value; writes are ignored (the device changes it through <see cref="RegisterFile.Set"/>).</summary>
    ReadOnly,

    /// <summary>
    /// Reads return 0; writes store the bits inside the write mask (the stored value stays visible
    /// to the device and to hooks). Command registers such as e1000 ICS and IMC.
    /// </summary>
    WriteOnly,

    /// <summary>
    /// Reads return the value and then clear the bytes that were read; writing 1 clears a bit
    /// inside the write mask (e1000 ICR at 0x000C0: read clears, writing 1 clears the bit).
    /// </summary>
    ReadToClear,

    /// <summary>Reads return the value; writing 1 clears a bit inside the write mask, 0 leaves it (RTL8139 ISR, NE2000 ISR).</summary>
    WriteOneToClear,
}
