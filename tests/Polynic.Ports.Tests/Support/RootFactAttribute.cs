namespace Polynic.Ports.Tests.Support;

/// <summary>A fact that needs root, /dev/net/tun and iproute2; skipped (with the reason) elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root (creates tap interfaces and network namespaces)";
        else if (!File.Exists("/dev/net/tun")) Skip = "needs /dev/net/tun";
        else if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) Skip = "needs iproute2";
    }
}
