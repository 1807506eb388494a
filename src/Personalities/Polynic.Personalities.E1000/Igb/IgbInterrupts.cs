using Polynic.Core.Interrupts;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Registers;
using static Polynic.Personalities.E1000.E1000Bits;
using static Polynic.Personalities.E1000.Igb.IgbBits;
using static Polynic.Personalities.E1000.Igb.IgbRegisters;

namespace Polynic.Personalities.E1000.Igb;

/// <summary>
/// The 82576's two interrupt cause registers (datasheet 7.3 "Interrupts"): ICR/IMS for the
/// "other" causes (link, MDIO, ...) and, without MSI-X, for the queues (RXDW, TXDW); EICR/EIMS for
/// MSI-X vectors. Without MSI-X the ICR model owns the line (INTx level, MSI edge). With MSI-X, a
/// pending and enabled ICR cause sets the EICR bit of the vector IVAR_MISC names for "other", and
/// each queue write-back sets the EICR bit of the vector its IVAR entry names; an EICR bit that is
/// pending and enabled in EIMS sends one message on its vector, auto-cleared by EIAC and, with
/// GPIE.EIAME, auto-masked by EIAM (<see cref="EicrRouting"/>).
/// </summary>
internal sealed class IgbInterrupts
{
    private readonly RegisterFile _registers;
    private readonly InterruptRouter _router;

    public IgbInterrupts(RegisterFile registers, InterruptRouter router)
    {
        _registers = registers;
        _router = router;
        Routing = new EicrRouting(registers);
        Extended = new InterruptCauses(router) { DrivesLine = false, VectorRouting = Routing };
        Causes = new InterruptCauses(OnCauseLine);
    }

    /// <summary>ICR (cause) and IMS (mask).</summary>
    public InterruptCauses Causes { get; }

    /// <summary>EICR (cause) and EIMS (mask).</summary>
    public InterruptCauses Extended { get; }

    /// <summary>How EICR bits become MSI-X messages.</summary>
    public EicrRouting Routing { get; }

    /// <summary>A receive queue wrote descriptors back: ICR.RXDW and the queue's EICR bit.</summary>
    public void ReceiveWrittenBack(int queue)
    {
        Causes.Raise(IcrRxdw);
        RaiseQueueVector(queue, transmit: false);
    }

    /// <summary>A transmit queue wrote a descriptor back: ICR.TXDW and the queue's EICR bit.</summary>
    public void TransmitWrittenBack(int queue)
    {
        Causes.Raise(IcrTxdw);
        RaiseQueueVector(queue, transmit: true);
    }

    /// <summary>
    /// ICR read (datasheet 8.8.1; QEMU igb_mac_icr_read): the causes with INT_ASSERTED when any is
    /// enabled, then cleared; with GPIE.NSICR, or when an interrupt was asserted, IAM's bits are
    /// cleared from IMS (auto-mask; the driver re-enables them when its poll is done).
    /// </summary>
    public uint ReadIcr()
    {
        uint mask = Causes.Mask;
        uint value = Causes.ReadAndClear();
        bool asserted = (value & mask) != 0;
        if ((_registers.Get(Gpie) & GpieNsicr) != 0 || asserted) Causes.Disable(_registers.Get(Iam));
        return asserted ? value | IcrIntAsserted : value;
    }

    /// <summary>Device reset: both cause registers and masks cleared.</summary>
    public void Reset()
    {
        Causes.Reset();
        Extended.Reset();
    }

    /// <summary>Whether causes are routed through EICR and IVAR: MSI-X on in config space and GPIE.MSIX_MODE set.</summary>
    private bool ExtendedMode => _router.Mode == InterruptMode.Msix && (_registers.Get(Gpie) & GpieMsixMode) != 0;

    /// <summary>
    /// The ICR line. Without GPIE.MSIX_MODE it is the function's interrupt: the INTx level, an MSI, or
    /// MSI-X vector 0 when MSI-X is on (datasheet 7.3.1; igb's self-test relies on this after a reset
    /// cleared GPIE). In MSI-X mode a rising edge sets the "other" bit IVAR_MISC names in EICR.
    /// </summary>
    private void OnCauseLine(bool level)
    {
        bool extended = ExtendedMode;
        // In MSI-X mode the source's level is kept low, so a later return to non-MSI-X mode starts from a clean edge.
        _router.SetLevel(0, level && !extended);
        if (!extended || !level) return;
        uint entry = (_registers.Get(IvarMisc) >> 8) & 0xFF;
        if (Routing.TryVector(entry, out int vector)) Extended.Raise(1u << vector);
    }

    private void RaiseQueueVector(int queue, bool transmit)
    {
        if (!ExtendedMode) return;
        // IVAR0[q & 7], byte ((q & 8) << 1) for receive queue q, that + 8 for transmit (igb_assign_vector, 82576).
        uint ivar = _registers.GetElement(Ivar0, queue & 7);
        int shift = ((queue & 8) << 1) + (transmit ? 8 : 0);
        if (Routing.TryVector((ivar >> shift) & 0xFF, out int vector)) Extended.Raise(1u << vector);
    }
}

/// <summary>
/// EICR bit N is MSI-X vector N (datasheet 7.3.1.3, MSI-X mode): a newly pending and enabled bit
/// sends one message on its vector; EIAC clears it from EICR as the message goes, and with
/// GPIE.EIAME, EIAM clears it from EIMS.
/// </summary>
internal sealed class EicrRouting(RegisterFile registers) : IInterruptVectorRouting
{
    /// <summary>IVAR entries that were invalid or named a vector beyond the table (guest mistakes, nothing raised).</summary>
    public long Unrouted { get; private set; }

    public uint Translate(uint raised) => raised;

    public VectorSignal Route(uint fresh)
    {
        // Without GPIE.MSIX_MODE, EICR sends nothing (ICR drives vector 0 instead).
        if ((registers.Get(Gpie) & GpieMsixMode) == 0) return default;
        uint vectors = fresh & ((1u << MsixVectors) - 1);
        uint clearMask = (registers.Get(Gpie) & GpieEiame) != 0 ? fresh & registers.Get(Eiam) : 0;
        return new VectorSignal(vectors, fresh & registers.Get(Eiac), clearMask);
    }

    /// <summary>The vector of an IVAR byte (vector 4:0, valid bit 7); false, counted, when it names none of the table.</summary>
    public bool TryVector(uint entry, out int vector)
    {
        vector = (int)(entry & IvarVectorMask);
        if ((entry & IvarValid) != 0 && vector < MsixVectors) return true;
        Unrouted++;
        return false;
    }
}
