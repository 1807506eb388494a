using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.E1000eBits;
using static Polynic.Personalities.E1000.E1000eRegisters;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The 82574's MSI-X cause routing (82574 datasheet 7.4.2 "MSI-X", 10.2.4.x IVAR, EIAC, IAM): in
/// MSI-X mode a receive write-back sets ICR.RXQ0 instead of RXT0, a transmit write-back TXQ0 instead
/// of TXDW, and any of the "other" causes (link, overrun, MDIO...) also sets ICR.OTHER. IVAR names
/// a vector for each of RxQ0, RxQ1, TxQ0, TxQ1 and other (4-bit entries: vector 2:0, valid bit 3).
/// When a vector's message goes, its causes in EIAC clear from ICR, and with CTRL_EXT.EIAME set
/// its causes in IAM clear from IMS; Linux re-enables them when its handler is done.
/// </summary>
internal sealed class MsixCauseRouting : IInterruptVectorRouting
{
    private readonly RegisterFile _registers;

    public MsixCauseRouting(RegisterFile registers) => _registers = registers;

    /// <summary>Messages whose IVAR entry was invalid or named no vector of the table (guest mistakes, not sent).</summary>
    public long Unrouted { get; private set; }

    public uint Translate(uint raised)
    {
        uint bits = raised;
        if ((bits & IcrRxt0) != 0) bits = (bits & ~IcrRxt0) | IcrRxq0;
        if ((bits & IcrTxdw) != 0) bits = (bits & ~IcrTxdw) | IcrTxq0;
        if ((bits & IcrOtherCauses) != 0) bits |= IcrOther;
        return bits;
    }

    public VectorSignal Route(uint fresh)
    {
        uint ivar = _registers.Get(Ivar);
        uint vectors = 0;
        uint summary = fresh & (IcrRxq0 | IcrRxq1 | IcrTxq0 | IcrTxq1 | IcrOther);
        vectors |= VectorOf(summary, IcrRxq0, ivar >> IvarRxq0Shift);
        vectors |= VectorOf(summary, IcrRxq1, ivar >> IvarRxq1Shift);
        vectors |= VectorOf(summary, IcrTxq0, ivar >> IvarTxq0Shift);
        vectors |= VectorOf(summary, IcrTxq1, ivar >> IvarTxq1Shift);
        vectors |= VectorOf(summary, IcrOther, ivar >> IvarOtherShift);
        uint clearCause = summary & _registers.Get(Eiac);
        uint clearMask = (_registers.Get(CtrlExt) & CtrlExtEiame) != 0 ? summary & _registers.Get(Iam) : 0;
        return new VectorSignal(vectors, clearCause, clearMask);
    }

    private uint VectorOf(uint summary, uint cause, uint entry)
    {
        if ((summary & cause) == 0) return 0;
        uint vector = entry & 7;
        if ((entry & IvarValid) == 0 || vector >= MsixVectors)
        {
            Unrouted++;
            return 0;
        }
        return 1u << (int)vector;
    }
}
