using Polynic.Core.Interrupts;

namespace Polynic.Core.Nic;

/// <summary>
/// The cause/mask interrupt model almost every NIC shares: a cause register collecting events
/// (e1000 ICR, RTL8139 ISR, NE2000 ISR), a mask register enabling them (e1000 IMS, RTL8139 IMR,
/// NE2000 IMR), and an interrupt line asserted while <c>Cause &amp; Mask</c> is non-zero.
/// </summary>
/// <remarks>
/// <para>
/// The line level is driven into the PCI core's <see cref="InterruptRouter"/> (INTx level, or a
/// message on its rising edge under MSI/MSI-X) and only when it changes. Falling edges always pass;
/// a rising edge may be held back by an <see cref="IInterruptModeration"/> (e1000 ITR/RDTR/RADV),
/// which later calls <see cref="Update"/> to let it through.
/// </para>
/// <para>Thread-safe: a port thread may raise causes while the register path acknowledges them.</para>
/// </remarks>
public sealed class InterruptCauses
{
    private readonly object _lock = new();
    private readonly InterruptRouter? _router;
    private readonly int _source;
    private readonly Action<bool>? _line;
    private uint _cause;
    private uint _mask;
    private bool _level;
    private uint _signalled;
    private long _assertions;
    private long _heldBack;

    /// <summary>Drives interrupt source <paramref name="source"/> of <paramref name="router"/>.</summary>
    public InterruptCauses(InterruptRouter router, int source = 0)
    {
        _router = router ?? throw new ArgumentNullException(nameof(router));
        _source = source;
    }

    /// <summary>Drives <paramref name="line"/> (called with the new level on every change); for tests and composite devices.</summary>
    public InterruptCauses(Action<bool> line) => _line = line ?? throw new ArgumentNullException(nameof(line));

    /// <summary>Optional gate for rising edges (interrupt moderation). Set it before the device runs.</summary>
    public IInterruptModeration? Moderation { get; set; }

    /// <summary>
    /// Optional per-cause MSI-X routing. While the router is in MSI-X mode, each cause that becomes
    /// pending and enabled sends one message on the vector this routing names (no moderation), and
    /// sends none again until it has been cleared or masked; otherwise the model drives one line.
    /// Set it before the device runs.
    /// </summary>
    public IInterruptVectorRouting? VectorRouting { get; set; }

    /// <summary>
    /// Whether the model drives its line (INTx level, MSI edge) outside MSI-X. True by default.
    /// False for a cause register that reaches the guest only through <see cref="VectorRouting"/>
    /// (the 82576's EICR: without MSI-X its queue causes are reported through ICR, which owns the
    /// line); its causes and mask are then kept but signal nothing until MSI-X is on.
    /// </summary>
    public bool DrivesLine { get; init; } = true;

    /// <summary>The cause register: events that happened and were not acknowledged.</summary>
    public uint Cause { get { lock (_lock) return _cause; } }

    /// <summary>The mask register: causes that may assert the line.</summary>
    public uint Mask { get { lock (_lock) return _mask; } }

    /// <summary>Causes that are both pending and enabled.</summary>
    public uint Pending { get { lock (_lock) return _cause & _mask; } }

    /// <summary>The level last driven onto the line.</summary>
    public bool Asserted { get { lock (_lock) return _level; } }

    /// <summary>Rising edges driven onto the line since creation.</summary>
    public long Assertions => Interlocked.Read(ref _assertions);

    /// <summary>Rising edges a moderation held back (each later <see cref="Update"/> that holds again counts again).</summary>
    public long HeldBack => Interlocked.Read(ref _heldBack);

    /// <summary>Sets <paramref name="bits"/> in the cause register (a device event, or e1000 ICS / a software-interrupt write).</summary>
    public void Raise(uint bits)
    {
        if (VectorRouting is { } routing && RoutesVectors) bits = routing.Translate(bits);
        // Already pending and the line where Drive would leave it: nothing changes, so no lock (e1000
        // raises RXT0 per frame). Every change is made and driven under the lock; a held-back edge still locks.
        uint cause = Volatile.Read(ref _cause);
        if ((cause & bits) == bits && ((cause & Volatile.Read(ref _mask)) != 0) == Volatile.Read(ref _level)) return;
        lock (_lock) { _cause |= bits; Drive(); }
    }

    /// <summary>Clears <paramref name="bits"/> in the cause register (write-one-to-clear of ICR/ISR).</summary>
    public void Acknowledge(uint bits)
    {
        lock (_lock) { _cause &= ~bits; Drive(); }
    }

    /// <summary>
    /// Returns the cause register and clears it: the read-to-clear rule of e1000 ICR
    /// (8254x manual, ICR at 0x000C0: reading it clears all bits; QEMU's mac_icr_read does the same).
    /// </summary>
    public uint ReadAndClear()
    {
        lock (_lock)
        {
            uint c = _cause;
            _cause = 0;
            Drive();
            return c;
        }
    }

    /// <summary>Replaces the cause register (a device whose cause register is plain read/write).</summary>
    public void SetCause(uint value)
    {
        lock (_lock) { _cause = value; Drive(); }
    }

    /// <summary>Replaces the mask register (RTL8139 IMR, NE2000 IMR writes).</summary>
    public void SetMask(uint value)
    {
        lock (_lock) { _mask = value; Drive(); }
    }

    /// <summary>Sets bits in the mask register (e1000 IMS writes: 1 enables, 0 has no effect).</summary>
    public void Enable(uint bits)
    {
        lock (_lock) { _mask |= bits; Drive(); }
    }

    /// <summary>Clears bits in the mask register (e1000 IMC writes: 1 disables, 0 has no effect).</summary>
    public void Disable(uint bits)
    {
        lock (_lock) { _mask &= ~bits; Drive(); }
    }

    /// <summary>Re-evaluates the line; the moderation calls this when its hold-off time is over.</summary>
    public void Update()
    {
        lock (_lock) Drive();
    }

    /// <summary>Clears cause and mask and lowers the line (device reset).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _cause = 0;
            _mask = 0;
            _signalled = 0;
            Drive();
        }
    }

    private bool RoutesVectors => _router is { Mode: InterruptMode.Msix };

    private void Drive()
    {
        if (VectorRouting is { } routing && RoutesVectors)
        {
            DriveVectors(routing);
            return;
        }
        if (!DrivesLine) return;
        uint pending = _cause & _mask;
        bool level = pending != 0;
        if (level == _level) return;
        if (level && Moderation is { } moderation && !moderation.AllowAssert(pending))
        {
            Interlocked.Increment(ref _heldBack);
            return;
        }
        _level = level;
        if (level) Interlocked.Increment(ref _assertions);
        if (_router is not null) _router.SetLevel(_source, level);
        else _line!(level);
    }

    /// <summary>
    /// MSI-X with routing: a message per newly pending cause (as QEMU's e1000e does: a cause that
    /// stays pending is not signalled again), then the routing's auto-clear and auto-mask.
    /// </summary>
    private void DriveVectors(IInterruptVectorRouting routing)
    {
        uint pending = _cause & _mask;
        _signalled &= pending;
        uint fresh = pending & ~_signalled;
        if (fresh == 0) return;
        var signal = routing.Route(fresh);
        _cause &= ~signal.ClearCause;
        _mask &= ~signal.ClearMask;
        _signalled |= fresh & _cause & _mask;
        // At most 32 vectors: one bit each, so the loop is bounded.
        for (uint vectors = signal.Vectors; vectors != 0; vectors &= vectors - 1)
        {
            Interlocked.Increment(ref _assertions);
            _router!.Notify(System.Numerics.BitOperations.TrailingZeroCount(vectors));
        }
    }
}

/// <summary>
/// Interrupt moderation: decides whether the line may rise now. A device with a throttle
/// (e1000 ITR at 0x000C4; the RDTR/RADV receive timers) returns false while its
/// interval runs and calls <see cref="InterruptCauses.Update"/> when it ends.
/// </summary>
public interface IInterruptModeration
{
    /// <summary>
    /// The line is about to rise because <paramref name="pending"/> causes are pending and enabled.
    /// Return false to keep it low for now. Called under the cause model's lock: do not block;
    /// start a timer and call <see cref="InterruptCauses.Update"/> from it.
    /// </summary>
    bool AllowAssert(uint pending);
}
