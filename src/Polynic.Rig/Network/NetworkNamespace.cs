using System.Diagnostics;
using System.Security.Cryptography;

namespace Polynic.Rig.Network;

/// <summary>
/// A network namespace the test creates for itself and deletes afterwards: the only peer
/// guest traffic ever reaches. Host-side tools (iperf3, busybox httpd/wget/sha256sum) come
/// from the rig's Debian root and run chrooted inside the namespace, so the host needs none.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private readonly List<Process> _background = [];
    private readonly string _toolRoot;

    private NetworkNamespace(string name, string toolRoot)
    {
        Name = name;
        _toolRoot = toolRoot;
        ScratchDirectory = Path.Combine(toolRoot, "tmp", name);
        Directory.CreateDirectory(ScratchDirectory);
    }

    public string Name { get; }

    /// <summary>A directory inside the tool root; inside the chroot it is <see cref="ScratchInRoot"/>.</summary>
    public string ScratchDirectory { get; }

    public string ScratchInRoot => "/tmp/" + Name;

    public static async Task<NetworkNamespace> CreateAsync(string toolRoot)
    {
        var name = "pe" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await HostCommand.RunAsync("ip", ["netns", "add", name]);
        var ns = new NetworkNamespace(name, toolRoot);
        // No IPv6: its neighbour discovery and MLD chatter would show up in frame counts.
        await ns.RunAsync("ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        return ns;
    }

    /// <summary>Moves a host interface into the namespace, gives it an address and brings it up.</summary>
    public async Task AdoptAsync(string interfaceName, string cidr, int mtu = 1500)
    {
        await HostCommand.RunAsync("ip", ["link", "set", interfaceName, "netns", Name]);
        await RunAsync($"ip addr add {cidr} dev {interfaceName} && ip link set {interfaceName} mtu {mtu} up");
    }

    /// <summary>Runs a shell command line inside the namespace (host filesystem).</summary>
    public Task<string> RunAsync(string script, TimeSpan? timeout = null, bool check = true) =>
        HostCommand.RunAsync("ip", ["netns", "exec", Name, "/bin/sh", "-c", script], timeout, check);

    /// <summary>Runs a shell command line inside the namespace, chrooted into the tool root.</summary>
    public Task<string> RunToolAsync(string script, TimeSpan? timeout = null, bool check = true) =>
        HostCommand.RunAsync("ip", ["netns", "exec", Name, "chroot", _toolRoot, "/bin/sh", "-c", script], timeout, check);

    /// <summary>Starts a long-running tool (a server) in the namespace; it is killed on dispose.</summary>
    public Process StartTool(string script)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", Name, "chroot", _toolRoot, "/bin/sh", "-c", "exec " + script }) start.ArgumentList.Add(a);
        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + script);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _background.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _background)
        {
            try
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        await HostCommand.RunAsync("ip", ["netns", "del", Name], check: false);
        try
        {
            Directory.Delete(ScratchDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
