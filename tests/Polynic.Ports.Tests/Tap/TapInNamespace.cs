using Polynic.Ports.Tap;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Tap;

/// <summary>
/// A TapPort whose interface was moved into a fresh network namespace and given 10.99.N.1/24
/// there, so the namespace's own IPv4 stack is the peer. The test impersonates 10.99.N.2 with a
/// locally administered MAC; nothing else is ever addressed.
/// </summary>
internal sealed class TapInNamespace : IDisposable
{
    private static int s_nextSubnet;

    private TapInNamespace(NetworkNamespace ns, TapPort port, byte subnet, ListLogger logger, Polynic.Core.Nic.PortCapabilities receiveCapabilities)
    {
        Namespace = ns;
        Port = port;
        Logger = logger;
        KernelIp = [10, 99, subnet, 1];
        Station = new Station([0x02, 0x00, 0x00, 0x99, subnet, 0x02], [10, 99, subnet, 2]);
        Recorder = new FrameRecorder { Station = Station, ReplyPort = port, ReceiveCapabilities = receiveCapabilities };
    }

    public NetworkNamespace Namespace { get; }
    public TapPort Port { get; }
    public ListLogger Logger { get; }
    public FrameRecorder Recorder { get; }
    public byte[] KernelIp { get; }
    public Station Station { get; }
    public string InterfaceName => Port.InterfaceName;

    public static TapInNamespace Create(bool vnetHeader, Polynic.Core.Nic.IPortReceiver? receiver = null,
        Polynic.Core.Nic.PortCapabilities receiveCapabilities = Polynic.Core.Nic.PortCapabilities.None)
    {
        byte subnet = (byte)(Interlocked.Increment(ref s_nextSubnet) % 250 + 1);
        var ns = NetworkNamespace.Create();
        TapPort? port = null;
        try
        {
            var logger = new ListLogger();
            port = TapPort.Open(new TapPortOptions { InterfaceName = UniqueName(), VnetHeader = vnetHeader }, logger);
            // The descriptor stays valid when the interface changes namespace.
            HostCommand.Check("ip", "link", "set", port.InterfaceName, "netns", ns.Name);
            ns.Ip("addr", "add", $"10.99.{subnet}.1/24", "dev", port.InterfaceName);
            ns.Ip("link", "set", port.InterfaceName, "up");
            var setup = new TapInNamespace(ns, port, subnet, logger, receiveCapabilities);
            port.Start(receiver ?? setup.Recorder);
            return setup;
        }
        catch
        {
            port?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    public static string UniqueName() => $"pnt{Guid.NewGuid():N}"[..12];

    /// <summary>Sends an ARP request for the kernel's address and returns the MAC in its reply.</summary>
    public byte[] ResolveKernelMac()
    {
        Assert.True(Port.Send(Frames.ArpRequest(Station.Mac, Station.Ip, KernelIp)));
        var reply = Recorder.WaitFor(frame => Frames.IsArpReplyFrom(frame, KernelIp), TimeSpan.FromSeconds(5));
        Assert.NotNull(reply);
        return reply.AsSpan(22, 6).ToArray();
    }

    public void Dispose()
    {
        Port.Dispose();
        Namespace.Dispose();
    }
}
