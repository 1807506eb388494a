using Polynic.Core.Nic;

namespace Polynic.Ports.Switching;

/// <summary>
/// One port of an <see cref="L2Switch"/>, the <see cref="IPort"/> a NIC attaches to. Made by
/// <see cref="L2Switch.CreatePort"/>. What the NIC sends is forwarded on the NIC's thread
/// (learning, lookup, a copy into each destination's egress queue, never blocking); what other
/// ports forward here is delivered to the receiver by this port's own thread.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Capabilities"/> is <see cref="PortCapabilities.None"/>: a frame may go to several
/// NICs, each with its own receive offloads or none, and a partial checksum or a 64 KiB GSO
/// frame would have to be finished per destination. A NIC therefore completes checksums and
/// segments (the core's ChecksumOffload and TcpSegmenter) before sending, exactly as for a wire.
/// </para>
/// <para>
/// Do not dispose a port while holding the lock its receiver takes: disposal waits for the
/// delivery thread, which may be waiting for that lock.
/// </para>
/// </remarks>
public sealed class SwitchPort : IPort
{
    private readonly L2Switch _switch;
    private readonly EgressRing _ring;
    private readonly VlanSet _members;
    private readonly object _gate = new();
    private volatile EgressWorker? _worker;
    private volatile bool _enabled = true;
    private volatile bool _disposed;
    private volatile Exception? _lastReceiverFault;

    internal SwitchPort(L2Switch owner, string name, SwitchPortOptions options, int slotSize)
    {
        _switch = owner;
        Name = name;
        Options = options;
        if (options.Mode == SwitchPortMode.Access)
        {
            _members = new VlanSet([options.AccessVlan]);
            UntaggedVlan = options.AccessVlan;
        }
        else
        {
            if (options.NativeVlan is { } native && !VlanTag.IsValidVlan(native))
                throw new ArgumentOutOfRangeException(nameof(options), native, "The native VLAN must be 1..4094.");
            _members = options.AllowedVlans is not { } allowed ? VlanSet.All()
                : new VlanSet(options.NativeVlan is { } n ? [.. allowed, n] : allowed);
            UntaggedVlan = options.NativeVlan ?? 0;
        }
        _ring = new EgressRing(options.EgressQueueCapacity, slotSize);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The switch the port belongs to.</summary>
    public L2Switch Switch => _switch;

    /// <summary>The VLAN configuration the port was created with.</summary>
    public SwitchPortOptions Options { get; }

    /// <summary>Frames, bytes and drops by reason.</summary>
    public SwitchPortCounters Counters { get; } = new();

    /// <inheritdoc/>
    public PortCapabilities Capabilities => PortCapabilities.None;

    /// <summary>Whether the port forwards (see <see cref="SetEnabled"/>); true when created.</summary>
    public bool Enabled => _enabled;

    /// <inheritdoc/>
    /// <remarks>True while the switch and the port exist and the port is enabled.</remarks>
    public bool LinkUp => _enabled && !_disposed && !_switch.IsDisposed;

    /// <summary>Frames waiting in the egress queue for the delivery thread.</summary>
    public int EgressQueueLength => _ring.Count;

    /// <summary>
    /// The last exception the receiver threw. The switch keeps it from the sending NIC (a port
    /// never throws into a NIC) but keeps it so a test can fail with it.
    /// </summary>
    public Exception? LastReceiverFault => _lastReceiverFault;

    /// <summary>Whether the delivery thread runs (started and not disposed).</summary>
    public bool IsDelivering => _worker?.IsRunning ?? false;

    /// <summary>VLAN of untagged frames from the NIC; 0 if the port takes none (trunk without native VLAN).</summary>
    internal int UntaggedVlan { get; }

    internal bool AcceptsTagged => Options.Mode == SwitchPortMode.Trunk;

    /// <summary>Whether frames forwarded here now reach a receiver.</summary>
    internal bool IsForwarding => _enabled && !_disposed && _worker is not null;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    /// <exception cref="ObjectDisposedException">The port or its switch was disposed.</exception>
    public void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_worker is not null) throw new InvalidOperationException($"{Name} is already started.");
            _worker = new EgressWorker(this, _ring, receiver);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Returns false when the frame is dropped: malformed, VLAN mismatch, link down, or (for a
    /// known unicast destination) that port's queue full. A flooded frame returns true even if
    /// some ports' queues were full; those ports count the drop.
    /// </remarks>
    public bool Send(ReadOnlySpan<byte> frame) => _switch.Forward(this, frame);

    /// <inheritdoc/>
    /// <remarks>The port takes no offloads; a frame that still needs one is dropped as malformed.</remarks>
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (offload.NeedsChecksum || offload.GsoType != GsoType.None)
        {
            Counters.CountIn(frame.Length);
            Counters.CountMalformed();
            return false;
        }
        return _switch.Forward(this, frame);
    }

    /// <summary>
    /// Enables or disables the port, like an administrative shutdown: a disabled port has link
    /// down (its receiver hears LinkChanged), forwards nothing either way, and forgets the
    /// addresses learned on it.
    /// </summary>
    public void SetEnabled(bool enabled)
    {
        EgressWorker? worker;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_enabled == enabled) return;
            _enabled = enabled;
            worker = _worker;
        }
        if (!enabled) _switch.ForgetAddresses(this);
        if (!_switch.IsDisposed) worker?.EnqueueLink(enabled);
    }

    /// <summary>Removes the port from the switch (its learned addresses go too) and stops its delivery thread.</summary>
    public void Dispose() => Shutdown(linkDown: false);

    internal void Shutdown(bool linkDown)
    {
        EgressWorker? worker;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            worker = _worker;
        }
        _switch.Detach(this);
        worker?.Stop(linkDown);
    }

    internal bool Carries(int vlan) => _members.Contains(vlan);

    /// <summary>
    /// Copies a frame into the egress queue, tagged or untagged as this port carries
    /// <paramref name="vlan"/>. <paramref name="bodyOffset"/> is where the frame's EtherType
    /// (after any tag) starts; <paramref name="tci"/> is the tag to write if one is needed.
    /// </summary>
    internal bool Enqueue(ReadOnlySpan<byte> frame, int bodyOffset, ushort tci, int vlan)
    {
        var worker = _worker;
        if (worker is null || !_enabled || _disposed)
        {
            Counters.CountLinkDown();
            return false;
        }
        bool tag = Options.Mode == SwitchPortMode.Trunk && vlan != UntaggedVlan;
        int headerLength = tag ? VlanTag.AddressesLength + VlanTag.Length : VlanTag.AddressesLength;
        var body = frame[bodyOffset..];
        int length = headerLength + body.Length;
        // Removing a tag from a minimum-size frame leaves a runt; pad it back to 60 bytes as a
        // bridge must (IEEE 802.1Q-2018, 6.9.1).
        int padded = bodyOffset > VlanTag.AddressesLength && !tag && length < MinimumFrameLength ? MinimumFrameLength : length;
        if (!_ring.TryClaim(out long position))
        {
            Counters.CountQueueFull();
            return false;
        }
        var slot = _ring.Slot(position);
        frame[..VlanTag.AddressesLength].CopyTo(slot);
        if (tag) VlanTag.Write(slot[VlanTag.AddressesLength..], tci);
        body.CopyTo(slot[headerLength..]);
        if (padded > length) slot[length..padded].Clear();
        _ring.Publish(position, padded);
        worker.Notify();
        return true;
    }

    internal void OnReceiverFault(Exception exception)
    {
        Counters.CountReceiverFault();
        _lastReceiverFault = exception;
    }

    private const int MinimumFrameLength = 60;

    /// <inheritdoc/>
    public override string ToString() => Name;
}
