namespace Polynic.Ports.Tests.Support;

/// <summary>A network namespace made for one test and deleted by Dispose, whatever happened.</summary>
internal sealed class NetworkNamespace : IDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static NetworkNamespace Create()
    {
        string name = $"pnt-{Guid.NewGuid():N}"[..16];
        HostCommand.Check("ip", "netns", "add", name);
        return new NetworkNamespace(name);
    }

    /// <summary>Runs "ip -n NAME ..." and throws if it fails.</summary>
    public string Ip(params string[] arguments) => HostCommand.Check("ip", ["-n", Name, .. arguments]);

    /// <summary>Runs a command inside the namespace.</summary>
    public HostCommand.Result Exec(params string[] command) => HostCommand.Run("ip", ["netns", "exec", Name, .. command]);

    /// <summary>A counter of /proc/net/snmp as the namespace sees it, e.g. ("Tcp", "InCsumErrors").</summary>
    public long SnmpCounter(string protocol, string counter)
    {
        var lines = Exec("cat", "/proc/net/snmp").Output.Split('\n')
            .Where(line => line.StartsWith(protocol + ":", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, counter)]);
    }

    public void Dispose() => HostCommand.Run("ip", "netns", "del", Name);
}
