namespace Polynic.Core.Nic;

/// <summary>
/// How a cause/mask interrupt model sends MSI-X messages when the device routes causes to several
/// vectors (the 82574's IVAR: receive queue, transmit queue and "other" causes each name a vector).
/// Set on <see cref="InterruptCauses.VectorRouting"/>; used only while the guest has MSI-X enabled.
/// </summary>
/// <remarks>Both members are called under the cause model's lock: they must not call back into it.</remarks>
public interface IInterruptVectorRouting
{
    /// <summary>
    /// The cause bits to set for <paramref name="raised"/> while MSI-X is on (82574: a receive
    /// write-back sets the queue's cause instead of RXT0, a link change also sets "other").
    /// </summary>
    uint Translate(uint raised);

    /// <summary>
    /// Causes that just became pending and enabled (<paramref name="fresh"/>): which vectors get a
    /// message, and which cause and mask bits the hardware clears on sending them (82574 EIAC
    /// auto-clear, EIAME auto-mask).
    /// </summary>
    VectorSignal Route(uint fresh);
}

/// <summary>What one routing decision does.</summary>
/// <param name="Vectors">Bit N set: send one message on MSI-X vector N.</param>
/// <param name="ClearCause">Cause bits cleared as the messages go (auto-clear).</param>
/// <param name="ClearMask">Mask bits cleared as the messages go (auto-mask).</param>
public readonly record struct VectorSignal(uint Vectors, uint ClearCause, uint ClearMask);
