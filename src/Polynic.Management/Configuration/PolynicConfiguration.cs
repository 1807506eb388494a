using Polynic.Core.Nic;

namespace Polynic.Management.Configuration;

/// <summary>A validated server configuration (schemas/polynic-config.xsd).</summary>
/// <param name="SourceFile">Where it came from, for messages.</param>
/// <param name="Capture">The capture file, if any.</param>
/// <param name="Switches">Polynic's own L2 switches.</param>
/// <param name="Nics">The NICs to serve.</param>
/// <param name="BusyPoll">How long each vfio-user session polls for the client's next message before it sleeps (see <see cref="Transport.VfioUser.Server.VfioUserServerOptions.BusyPoll"/>); null for the server's default.</param>
public sealed record PolynicConfiguration(
    string SourceFile,
    CaptureConfiguration? Capture,
    IReadOnlyList<SwitchConfiguration> Switches,
    IReadOnlyList<NicConfiguration> Nics,
    TimeSpan? BusyPoll = null);

/// <summary>One pcapng file recording every NIC's port.</summary>
public sealed record CaptureConfiguration(string File, long MaxBytes, int Files, int SnapLength = 262144);

/// <summary>A Polynic L2 switch.</summary>
public sealed record SwitchConfiguration(string Name, TimeSpan Aging);

/// <summary>
/// One NIC: a personality behind a vfio-user socket, attached to a port. <paramref name="Options"/>
/// are the personality's own settings (the <c>revision</c> attribute and <c>&lt;option&gt;</c>
/// elements), handed to its module as they are. <paramref name="OfferMsix"/> false presents the
/// card without its MSI-X capability (MSI and INTx only), for VMs that hot-unplug it: QEMU 10.2
/// to 11.1 abort on <c>device_del</c> of a vfio-user device with MSI-X.
/// </summary>
public sealed record NicConfiguration(
    string Name,
    string Personality,
    string Socket,
    MacAddress Mac,
    IReadOnlyList<KeyValuePair<string, string>> Options,
    PortConfiguration Port,
    FaultConfiguration? Faults,
    int Line,
    bool OfferMsix = true);

/// <summary>Where a NIC's frames go.</summary>
public abstract record PortConfiguration;

/// <summary>A Linux tap interface.</summary>
public sealed record TapPortConfiguration(string InterfaceName, bool VnetHeader, bool BringUp) : PortConfiguration;

/// <summary>A port on a Polynic switch; access VLAN, or trunk with the listed VLANs.</summary>
public sealed record SwitchPortConfiguration(string Switch, ushort AccessVlan, IReadOnlyList<ushort>? TrunkVlans) : PortConfiguration;

/// <summary>QEMU <c>-netdev stream</c> compatible socket.</summary>
public sealed record StreamPortConfiguration(bool Server, string Address) : PortConfiguration;

/// <summary>QEMU <c>-netdev dgram</c> compatible socket.</summary>
public sealed record DgramPortConfiguration(string Local, string Remote) : PortConfiguration;

/// <summary>No cable: link down.</summary>
public sealed record UnpluggedPortConfiguration : PortConfiguration;

/// <summary>Faults injected on a NIC's port.</summary>
public sealed record FaultConfiguration(int Seed, double Drop, double Corrupt, int DelayMs, bool LinkDown);
