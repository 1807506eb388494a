using Microsoft.Extensions.Logging;

namespace Polynic.Core.Interrupts;

/// <summary>
/// Turns a device's interrupt requests into INTx, MSI or MSI-X according to what the guest
/// enabled, applying Interrupt Disable, Bus Master Enable and vector masks, so that a
/// personality only says "cause N is active" and never touches interrupt plumbing.
/// </summary>
/// <remarks>
/// Sources are numbered like vectors. In INTx mode the pin is the OR of all source levels
/// (PCI 3.0, section 2.2.6: level-sensitive, active while any cause is pending). In MSI and
/// MSI-X mode a source's rising edge sends one message; <see cref="Notify"/> sends one
/// without a level. Thread-safe: devices call it from their own threads.
/// </remarks>
public sealed class InterruptRouter
{
    private readonly object _lock = new();
    private readonly ILogger _log;
    private readonly MsixTable? _msix;
    private readonly int _msiVectors;
    private readonly bool[] _level;
    private uint _msiPending;
    private InterruptConfig _config;
    private volatile InterruptMode _mode;
    private IInterruptSink? _sink;
    private bool _pinToSink;
    private volatile bool _intxPin;
    private volatile bool _intxStatus;
    private long _dropped;

    internal InterruptRouter(int msiVectors, int msixVectors, ILogger log)
    {
        _log = log;
        _msiVectors = msiVectors;
        _msix = msixVectors > 0 ? new MsixTable(msixVectors) : null;
        _level = new bool[Math.Max(1, Math.Max(msiVectors, msixVectors))];
    }

    /// <summary>Number of interrupt sources the device may use (the larger of its MSI and MSI-X vector counts, at least 1).</summary>
    public int SourceCount => _level.Length;

    /// <summary>The mechanism the guest enabled; MSI-X takes precedence, then MSI, else INTx.</summary>
    public InterruptMode Mode => _mode;

    /// <summary>
    /// Vectors the guest enabled in <see cref="Mode"/>: the MSI-X table's size, MSI's Multiple
    /// Message Enable, 1 for an INTx pin the guest has not disabled, else 0 (no interrupts).
    /// </summary>
    public int EnabledVectors
    {
        get
        {
            InterruptConfig config;
            lock (_lock) config = _config;
            return _mode switch
            {
                InterruptMode.Msix => _msix?.Vectors ?? 0,
                InterruptMode.Msi => config.MsiEnabledVectors,
                _ => config.IntxDisabled ? 0 : 1,
            };
        }
    }

    /// <summary>The INTx pin level after Interrupt Disable: what the VMM's interrupt controller sees.</summary>
    public bool IntxPinAsserted => _intxPin;

    /// <summary>The Interrupt Status bit of the status register: the INTx condition before Interrupt Disable.</summary>
    public bool IntxStatus => _intxStatus;

    /// <summary>Interrupts that could not be delivered (bad source number, bus mastering off, no VMM, INTx mode for <see cref="Notify"/>).</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Sets whether interrupt source <paramref name="source"/> is active. INTx: the pin follows
    /// the OR of all sources. MSI/MSI-X: a change from inactive to active sends one message.
    /// </summary>
    public void SetLevel(int source, bool asserted)
    {
        if ((uint)source >= (uint)_level.Length) { Drop(source, "no such interrupt source"); return; }
        lock (_lock)
        {
            bool rising = asserted && !_level[source];
            _level[source] = asserted;
            if (Mode == InterruptMode.Intx) UpdatePin();
            else if (rising) SendLocked(source);
        }
    }

    /// <summary>
    /// Sends one message on vector <paramref name="source"/> in MSI or MSI-X mode (for example a
    /// virtqueue's used-buffer notification). In INTx mode there is no edge to send: the call is
    /// counted as dropped and the device should use <see cref="SetLevel"/> instead.
    /// </summary>
    public void Notify(int source)
    {
        if ((uint)source >= (uint)_level.Length) { Drop(source, "no such interrupt source"); return; }
        lock (_lock)
        {
            if (Mode == InterruptMode.Intx) { Drop(source, "message requested while the guest uses INTx"); return; }
            SendLocked(source);
        }
    }

    internal void Connect(IInterruptSink sink)
    {
        lock (_lock)
        {
            _sink = sink;
            _pinToSink = false;
            UpdatePin();
        }
    }

    internal void Disconnect()
    {
        lock (_lock) { _sink = null; _pinToSink = false; }
    }

    /// <summary>Configuration space changed: re-evaluate the pin and deliver messages that were held back and are now allowed.</summary>
    internal void Configure(InterruptConfig config)
    {
        lock (_lock)
        {
            _config = config;
            _mode = config.MsixEnabled ? InterruptMode.Msix : config.MsiEnabled ? InterruptMode.Msi : InterruptMode.Intx;
            UpdatePin();
            DeliverPendingLocked();
        }
    }

    internal void Reset()
    {
        lock (_lock)
        {
            Array.Clear(_level);
            _msiPending = 0;
            _msix?.Reset();
            _config = default;
            _mode = InterruptMode.Intx;
            UpdatePin();
        }
    }

    internal uint MsiPendingBits { get { lock (_lock) return _msiPending; } }

    internal void ReadMsixTable(uint offset, Span<byte> data) { lock (_lock) _msix?.ReadTable(offset, data); }

    internal void WriteMsixTable(uint offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_msix is null) return;
            _msix.WriteTable(offset, data);
            DeliverPendingLocked();
        }
    }

    internal void ReadMsixPendingBits(uint offset, Span<byte> data) { lock (_lock) _msix?.ReadPendingBits(offset, data); }

    private void SendLocked(int source)
    {
        var c = _config;
        if (_sink is null) { Drop(source, "no VMM connected"); return; }
        // PCI 3.0, 6.8: a message is a memory write, which needs Bus Master Enable.
        if (!c.BusMaster) { Drop(source, "bus mastering disabled"); return; }
        if (c.MsixEnabled && _msix is not null)
        {
            if (source >= _msix.Vectors) { Drop(source, "beyond the MSI-X table"); return; }
            if (!_sink.EmulatesMsixTable && (c.MsixFunctionMasked || _msix.IsMasked(source)))
            {
                _msix.SetPending(source, true);
                return;
            }
            _sink.SignalMsix(source, _msix.Message(source));
        }
        else if (c.MsiEnabled)
        {
            // PCI 3.0, 6.8.1.3: with fewer vectors allocated than requested, the function
            // folds its sources onto the enabled ones by modifying the low data bits.
            int vector = source & (c.MsiEnabledVectors - 1);
            if ((c.MsiMaskBits & (1u << vector)) != 0) { _msiPending |= 1u << vector; return; }
            var m = c.MsiMessage;
            uint data = (m.Data & ~(uint)(c.MsiEnabledVectors - 1)) | (uint)vector;
            _sink.SignalMsi(vector, m with { Data = data });
        }
    }

    private void DeliverPendingLocked()
    {
        var c = _config;
        if (_sink is null || !c.BusMaster) return;
        if (c.MsixEnabled && _msix is not null && !c.MsixFunctionMasked)
        {
            for (int v = 0; v < _msix.Vectors; v++)
            {
                if (_msix.IsPending(v) && !_msix.IsMasked(v))
                {
                    _msix.SetPending(v, false);
                    _sink.SignalMsix(v, _msix.Message(v));
                }
            }
        }
        else if (c.MsiEnabled && _msiPending != 0)
        {
            for (int v = 0; v < _msiVectors && v < 32; v++)
            {
                uint bit = 1u << v;
                if ((_msiPending & bit) != 0 && (c.MsiMaskBits & bit) == 0)
                {
                    _msiPending &= ~bit;
                    var m = c.MsiMessage;
                    _sink.SignalMsi(v, m with { Data = (m.Data & ~(uint)(c.MsiEnabledVectors - 1)) | (uint)v });
                }
            }
        }
    }

    private void UpdatePin()
    {
        bool any = false;
        foreach (bool l in _level) any |= l;
        // PCI 3.0, 6.8.1.3 and 6.8.2.3: while MSI or MSI-X is enabled the function must not use INTx.
        bool condition = any && Mode == InterruptMode.Intx;
        _intxStatus = condition;
        bool pin = condition && !_config.IntxDisabled;
        _intxPin = pin;
        if (_sink is not null && pin != _pinToSink)
        {
            _pinToSink = pin;
            _sink.SetIntx(pin);
        }
    }

    private void Drop(int source, string reason)
    {
        long n = Interlocked.Increment(ref _dropped);
        // Log the first few and then every 1000th: a guest must not be able to flood the log.
        if (n <= 8 || n % 1000 == 0)
            _log.LogWarning("Interrupt source {Source} dropped ({Reason}); {Count} dropped so far", source, reason, n);
    }
}
