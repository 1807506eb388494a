using System.Net;
using System.Net.Sockets;

namespace Polynic.Ports.Sockets;

/// <summary>
/// How <see cref="DgramPort.Open"/> sets up a port speaking QEMU's <c>-netdev dgram</c>
/// (qapi/net.json NetdevDgramOptions): one Ethernet frame per datagram, no header.
/// </summary>
/// <remarks>
/// Three modes, chosen as QEMU chooses them (net/dgram.c net_init_dgram):
/// <list type="bullet">
/// <item>UDP unicast: <see cref="Local"/> and <see cref="Remote"/> are <see cref="IPEndPoint"/>s
/// (QEMU itself takes IPv4 only; IPv6 works between Polynic ports).</item>
/// <item>UDP multicast: <see cref="Remote"/> is an IPv4 multicast group and port; every member bound
/// to it hears every frame (a hub). <see cref="Local"/> is optional and, if given, only its address
/// counts: the interface to join and send on.</item>
/// <item>UNIX datagram: <see cref="Local"/> and <see cref="Remote"/> are <see cref="UnixDomainSocketEndPoint"/>s.</item>
/// </list>
/// </remarks>
public sealed record DgramPortOptions
{
    /// <summary>The address to bind (unicast, UNIX), or the multicast interface address (multicast, optional).</summary>
    public EndPoint? Local { get; init; }

    /// <summary>Where frames are sent: the peer's bound address, or the multicast group and port.</summary>
    public required EndPoint Remote { get; init; }

    /// <summary>
    /// Multicast only: IP_MULTICAST_TTL. Null keeps the system default (1: the local link). 0 keeps
    /// frames on this host (delivered to members here through multicast loopback, sent nowhere).
    /// </summary>
    public int? MulticastTimeToLive { get; init; }

    /// <summary>Longest frame sent or accepted; defaults to QEMU's receive buffer (<see cref="QemuStreamFraming.MaxFrameLength"/>).</summary>
    public int MaxFrameLength { get; init; } = QemuStreamFraming.MaxFrameLength;

    /// <summary>Whether <see cref="Remote"/> is an IPv4 multicast group (224.0.0.0/4), which selects multicast mode.</summary>
    public bool IsMulticast => Remote is IPEndPoint { AddressFamily: AddressFamily.InterNetwork } ip
        && (ip.Address.GetAddressBytes()[0] & 0xF0) == 0xE0;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Remote, nameof(Remote));
        if (MaxFrameLength is < 14 or > QemuStreamFraming.MaxFrameLength)
            throw new ArgumentOutOfRangeException(nameof(MaxFrameLength), MaxFrameLength,
                $"MaxFrameLength must be between 14 and {QemuStreamFraming.MaxFrameLength}.");
        if (IsMulticast)
        {
            if (((IPEndPoint)Remote).Port == 0) throw new ArgumentException("The multicast group needs a port.", nameof(Remote));
            if (Local is not (null or IPEndPoint { AddressFamily: AddressFamily.InterNetwork }))
                throw new ArgumentException("For multicast, Local is the IPv4 address of the interface to use (or null for any).", nameof(Local));
            if (MulticastTimeToLive is < 0 or > 255)
                throw new ArgumentOutOfRangeException(nameof(MulticastTimeToLive), MulticastTimeToLive, "A TTL is 0 to 255.");
            return;
        }
        if (MulticastTimeToLive is not null)
            throw new ArgumentException("MulticastTimeToLive applies to a multicast Remote only.", nameof(MulticastTimeToLive));
        if (Remote is IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } v6 && v6.Address.IsIPv6Multicast)
            throw new ArgumentException("IPv6 multicast is not supported (QEMU's dgram multicast is IPv4 only).", nameof(Remote));
        if (Local is null)
            throw new ArgumentException("A unicast or UNIX datagram port needs Local, the address to bind (QEMU: \"dgram requires local= parameter\").", nameof(Local));
        bool sameKind = (Local, Remote) switch
        {
            (IPEndPoint l, IPEndPoint r) => l.AddressFamily == r.AddressFamily,
            (UnixDomainSocketEndPoint, UnixDomainSocketEndPoint) => true,
            _ => false,
        };
        if (!sameKind)
            throw new ArgumentException(
                $"Local and Remote must be of the same kind (both IPv4, both IPv6 or both UNIX), not {Local.GetType().Name} {Local.AddressFamily} and {Remote.GetType().Name} {Remote.AddressFamily}.",
                nameof(Remote));
        if (Remote is IPEndPoint { Port: 0 })
            throw new ArgumentException("Remote needs a port.", nameof(Remote));
    }
}
