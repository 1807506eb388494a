using System.Net.Sockets;

namespace Polynic.Rig.Hosting;

/// <summary>
/// Checks that turn a deep failure (debootstrap dying half way, QEMU refusing a tap) into
/// one sentence a person can act on. Each throws <see cref="RigPrerequisiteException"/>.
/// </summary>
internal static class HostPrerequisites
{
    /// <summary>Checks needed both to prepare and to run guests.</summary>
    public static void RequireRootAndTun()
    {
        if (!Environment.IsPrivilegedProcess)
            throw new RigPrerequisiteException("The guest rig must run as root (it uses debootstrap, chroot and mount namespaces); rerun with sudo.");
        if (!File.Exists("/dev/net/tun"))
            throw new RigPrerequisiteException("/dev/net/tun is missing; load the tun module (modprobe tun) or give the container access to /dev/net/tun.");
        if (!File.Exists("/usr/bin/unshare") && !File.Exists("/bin/unshare"))
            throw new RigPrerequisiteException("unshare is missing on the host; install util-linux (apt-get install -y util-linux).");
    }

    public static void RequireFreeSpace(string directory, long requiredBytes)
    {
        var existing = directory;
        while (!Directory.Exists(existing)) existing = Path.GetDirectoryName(existing) ?? "/";
        var drive = new DriveInfo(existing);
        if (drive.AvailableFreeSpace < requiredBytes)
            throw new RigPrerequisiteException(
                $"Not enough disk space for the guest cache in {directory}: {drive.AvailableFreeSpace >> 20} MiB free, {requiredBytes >> 20} MiB needed (set {GuestRigOptions.CacheEnvironmentVariable} to another disk).");
    }

    /// <summary>A TCP connection to the mirror's host: enough to tell "offline" from a later apt failure.</summary>
    public static async Task RequireMirrorAsync(string mirror, CancellationToken cancellationToken)
    {
        var uri = new Uri(mirror);
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            await client.ConnectAsync(uri.Host, uri.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new RigPrerequisiteException($"Cannot reach the Debian mirror {mirror} ({e.Message.TrimEnd('.')}); the first guest preparation needs network access to it.");
        }
    }

    /// <summary>Installs debootstrap on the host with apt if it is missing.</summary>
    public static async Task RequireDebootstrapAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        if (FindDebootstrap() is not null) return;
        if (!File.Exists("/usr/bin/apt-get"))
            throw new RigPrerequisiteException("debootstrap is missing and this host has no apt-get to install it; install debootstrap by hand.");
        progress?.Report("debootstrap is missing; installing it with apt-get ...");
        var environment = IsolatedChroot.AptEnvironment;
        var install = await HostProcess.RunAsync("apt-get", ["install", "-y", "--no-install-recommends", "debootstrap"],
            TimeSpan.FromMinutes(5), cancellationToken, environment: environment).ConfigureAwait(false);
        if (install.ExitCode != 0)
        {
            // A fresh machine often has no package lists yet.
            await HostProcess.RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(5), cancellationToken, environment: environment).ConfigureAwait(false);
            install = await HostProcess.RunAsync("apt-get", ["install", "-y", "--no-install-recommends", "debootstrap"],
                TimeSpan.FromMinutes(5), cancellationToken, environment: environment).ConfigureAwait(false);
        }
        if (install.ExitCode != 0 || FindDebootstrap() is null)
            throw new RigPrerequisiteException($"debootstrap is missing and `apt-get install -y debootstrap` failed: {install.Tail(3).ReplaceLineEndings(" ")}");
    }

    public static string? FindDebootstrap()
        => new[] { "/usr/sbin/debootstrap", "/usr/bin/debootstrap", "/sbin/debootstrap" }.FirstOrDefault(File.Exists);
}
