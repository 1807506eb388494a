using System.Buffers.Binary;

namespace Polynic.Ports.Switching;

/// <summary>
/// An in-process Ethernet learning switch (an IEEE 802.1Q VLAN bridge without spanning tree):
/// the NICs of many VMs served by one Polynic process attach to its ports and reach each other
/// as on a physical switch.
/// </summary>
/// <remarks>
/// <para>
/// A frame a NIC sends is handled on the NIC's own thread: its source address is learned for its
/// port and VLAN; a known unicast destination in the same VLAN gets the frame on its port, and
/// broadcast, multicast and unknown unicast are flooded to every other port of the VLAN. Never
/// back out of the port it came in on.
/// </para>
/// <para>
/// Forwarding never calls another NIC: it copies the frame into the destination port's bounded
/// egress queue, and that port's thread delivers it. A NIC sends while holding its own lock and
/// receives by taking it; delivering on the sender's thread would let two NICs sending to each
/// other deadlock. Forwarding takes no lock in the steady state and allocates nothing.
/// </para>
/// </remarks>
public sealed class L2Switch : IDisposable
{
    private readonly object _portsGate = new();
    private readonly MacTable _table;
    private readonly TimeProvider _clock;
    private readonly long _agingTicks;
    private readonly long _sweepTicks;
    private readonly int _maxFrameLength;
    private volatile SwitchPort[] _ports = [];
    private long _nextSweep;
    private volatile bool _disposed;

    /// <summary>Creates a switch with no ports; <paramref name="options"/> null means the defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive capacity, ageing time or frame length.</exception>
    public L2Switch(string name, L2SwitchOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new L2SwitchOptions();
        if (options.MacAgingTime <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.MacAgingTime, "The ageing time must be positive.");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxFrameLength, VlanTag.EthernetHeaderLength + VlanTag.Length, nameof(options));
        Name = name;
        Options = options;
        _clock = options.TimeProvider;
        long frequency = _clock.TimestampFrequency;
        _agingTicks = (long)(options.MacAgingTime.TotalSeconds * frequency);
        // Aged entries are already ignored by lookups; sweeping them out only frees slots and
        // counts them, so once a second (or per ageing time, if shorter) is enough.
        _sweepTicks = Math.Max(1, Math.Min(frequency, _agingTicks));
        _maxFrameLength = options.MaxFrameLength;
        _table = new MacTable(options.MacTableCapacity, _agingTicks, frequency, Counters);
        _nextSweep = _clock.GetTimestamp() + _sweepTicks;
    }

    /// <summary>Name for logs and the prefix of its ports' names.</summary>
    public string Name { get; }

    /// <summary>The settings the switch was created with.</summary>
    public L2SwitchOptions Options { get; }

    /// <summary>Learning, ageing, eviction and flooding counters.</summary>
    public L2SwitchCounters Counters { get; } = new();

    /// <summary>The ports, in creation order (a snapshot).</summary>
    public IReadOnlyList<SwitchPort> Ports => _ports;

    /// <summary>Entries in the MAC table now (aged ones not yet swept included).</summary>
    public int MacTableCount => _table.Count;

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>
    /// Adds a port named "{switch name}:{<paramref name="name"/>}", enabled, link up; attach a NIC
    /// with <c>AttachPort</c> (or call <see cref="SwitchPort.Start"/>). <paramref name="options"/>
    /// null means an access port in VLAN 1.
    /// </summary>
    /// <exception cref="ArgumentException">Another port has that name, or a VLAN is outside 1..4094.</exception>
    /// <exception cref="ObjectDisposedException">The switch was disposed.</exception>
    public SwitchPort CreatePort(string name, SwitchPortOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new SwitchPortOptions();
        string fullName = $"{Name}:{name}";
        var port = new SwitchPort(this, fullName, options, _maxFrameLength + VlanTag.Length);
        lock (_portsGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ports.Any(p => p.Name == fullName)) throw new ArgumentException($"{fullName} already exists.", nameof(name));
            _ports = [.. _ports, port];
        }
        return port;
    }

    /// <summary>The port <paramref name="address"/> was learned on in <paramref name="vlan"/>, if known and not aged.</summary>
    public SwitchPort? Lookup(Polynic.Core.Nic.MacAddress address, ushort vlan) =>
        _table.Lookup(MacTable.Key(address.ToUInt64(), vlan), _clock.GetTimestamp());

    /// <summary>A copy of the MAC table: address, VLAN, port and time since last seen.</summary>
    public IReadOnlyList<MacTableEntry> GetMacTable()
    {
        long now = _clock.GetTimestamp();
        return _table.Snapshot().Select(e => new MacTableEntry(
            Polynic.Core.Nic.MacAddress.FromUInt64(e.Key & 0xFFFF_FFFF_FFFFUL), (ushort)(e.Key >> 48), e.Port,
            _clock.GetElapsedTime(e.LastSeen, now))).ToList();
    }

    /// <summary>
    /// Removes the entries older than the ageing time now; returns how many. The switch also does
    /// this by itself while frames flow, and never forwards by an aged entry.
    /// </summary>
    public int RemoveAgedEntries() => _table.RemoveAged(_clock.GetTimestamp());

    /// <summary>
    /// Disposes every port: their receivers hear LinkChanged(false), then their delivery threads
    /// stop. Returns when no thread of the switch runs.
    /// </summary>
    public void Dispose()
    {
        SwitchPort[] ports;
        lock (_portsGate)
        {
            if (_disposed) return;
            _disposed = true;
            ports = _ports;
        }
        foreach (var port in ports) port.Shutdown(linkDown: true);
    }

    internal void Detach(SwitchPort port)
    {
        lock (_portsGate) _ports = [.. _ports.Where(p => p != port)];
        _table.RemovePort(port);
    }

    internal void ForgetAddresses(SwitchPort port) => _table.RemovePort(port);

    /// <summary>The forwarding path: everything a frame sent on <paramref name="ingress"/> goes through.</summary>
    internal bool Forward(SwitchPort ingress, ReadOnlySpan<byte> frame)
    {
        var counters = ingress.Counters;
        counters.CountIn(frame.Length);
        if (!ingress.LinkUp)
        {
            counters.CountLinkDown();
            return false;
        }
        if (frame.Length < VlanTag.EthernetHeaderLength || frame.Length > _maxFrameLength || (frame[6] & 1) != 0)
        {
            counters.CountMalformed(); // runt, giant, or a group source address (IEEE 802-2014, 8.2)
            return false;
        }

        int vlan;
        ushort tci;
        int bodyOffset = VlanTag.AddressesLength;
        if (VlanTag.IsTagged(frame))
        {
            if (frame.Length < VlanTag.EthernetHeaderLength + VlanTag.Length)
            {
                counters.CountMalformed();
                return false;
            }
            tci = VlanTag.ReadTci(frame);
            vlan = tci & 0xFFF;
            // Access ports take no tags; priority tags (VID 0) and VLANs the trunk does not carry are refused.
            if (!ingress.AcceptsTagged || vlan == 0 || !ingress.Carries(vlan))
            {
                counters.CountVlanMismatch();
                return false;
            }
            bodyOffset += VlanTag.Length;
        }
        else
        {
            vlan = ingress.UntaggedVlan;
            if (vlan == 0)
            {
                counters.CountVlanMismatch();
                return false;
            }
            tci = (ushort)vlan;
        }

        long now = _clock.GetTimestamp();
        if (now >= Volatile.Read(ref _nextSweep)) Sweep(now);
        _table.Learn(MacTable.Key(ReadMac(frame[6..]), vlan), ingress, now);

        if ((frame[0] & 1) == 0 && _table.Lookup(MacTable.Key(ReadMac(frame), vlan), now) is { } egress)
        {
            if (egress == ingress)
            {
                Counters.CountFiltered();
                return true;
            }
            return egress.Enqueue(frame, bodyOffset, tci, vlan);
        }

        Counters.CountFlooded();
        foreach (var port in _ports)
            if (port != ingress && port.IsForwarding && port.Carries(vlan))
                port.Enqueue(frame, bodyOffset, tci, vlan);
        return true;
    }

    private void Sweep(long now)
    {
        Volatile.Write(ref _nextSweep, now + _sweepTicks);
        _table.TryRemoveAged(now);
    }

    private static ulong ReadMac(ReadOnlySpan<byte> bytes) =>
        (ulong)BinaryPrimitives.ReadUInt32BigEndian(bytes) << 16 | BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
}

/// <summary>One entry of an <see cref="L2Switch"/>'s MAC table.</summary>
/// <param name="Address">The learned source address.</param>
/// <param name="Vlan">The VLAN it was learned in.</param>
/// <param name="Port">The port frames to it go to.</param>
/// <param name="Age">Time since a frame from it was last seen (refreshed about once a second).</param>
public readonly record struct MacTableEntry(Polynic.Core.Nic.MacAddress Address, ushort Vlan, SwitchPort Port, TimeSpan Age);
