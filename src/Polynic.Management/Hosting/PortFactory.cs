using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Ports.Capture;
using Polynic.Ports.Faults;
using Polynic.Ports.Sockets;
using Polynic.Ports.Switching;
using Polynic.Ports.Tap;

namespace Polynic.Management.Hosting;

/// <summary>Builds the port stack of one NIC from its configuration: the port itself, then fault injection, then capture outermost (so the capture shows what the NIC sent and saw).</summary>
internal static class PortFactory
{
    public static IPort? Create(NicConfiguration nic, IReadOnlyDictionary<string, L2Switch> switches, PcapngWriter? capture, int snapLength, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger($"Polynic.Port.{nic.Name}");
        IPort? port = nic.Port switch
        {
            TapPortConfiguration t => TapPort.Open(new TapPortOptions { InterfaceName = t.InterfaceName, VnetHeader = t.VnetHeader, BringUp = t.BringUp }, log),
            SwitchPortConfiguration s => switches[s.Switch].CreatePort(nic.Name, s.TrunkVlans is { } trunk
                ? SwitchPortOptions.Trunk(trunk.ToArray())
                : SwitchPortOptions.Access(s.AccessVlan)),
            StreamPortConfiguration s => StreamPort.Open(new StreamPortOptions
            {
                Address = Endpoint(s.Address),
                Server = s.Server,
                Reconnect = s.Server ? TimeSpan.Zero : TimeSpan.FromSeconds(1),
            }, log),
            DgramPortConfiguration d => DgramPort.Open(new DgramPortOptions { Local = Endpoint(d.Local), Remote = Endpoint(d.Remote) }, log),
            _ => null,
        };
        if (port is null) return null;
        try
        {
            if (nic.Faults is { } f)
            {
                var direction = new DirectionFaults
                {
                    DropProbability = f.Drop,
                    CorruptProbability = f.Corrupt,
                    Delay = TimeSpan.FromMilliseconds(f.DelayMs),
                };
                port = new FaultInjectionPort(port, new FaultInjectionOptions
                {
                    Seed = (ulong)f.Seed,
                    Settings = new FaultSettings { Outbound = direction, Inbound = direction, LinkDown = f.LinkDown },
                });
            }
            if (capture is not null) port = new CapturePort(port, capture, nic.Name, snapLength);
            return port;
        }
        catch
        {
            port.Dispose();
            throw;
        }
    }

    /// <summary>Parses "unix:/path", "[v6]:port" or "v4:port".</summary>
    internal static EndPoint Endpoint(string text)
    {
        if (text.StartsWith("unix:", StringComparison.Ordinal)) return new UnixDomainSocketEndPoint(text[5..]);
        int colon = text.LastIndexOf(':');
        var host = text[..colon].Trim('[', ']');
        return new IPEndPoint(IPAddress.Parse(host), int.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}
