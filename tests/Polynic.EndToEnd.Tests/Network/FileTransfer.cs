using System.Diagnostics;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// A random file copied over TCP each way between a guest and its peer namespace (busybox
/// httpd on the serving side, wget on the fetching side), compared by sha256 on both ends.
/// </summary>
internal static class FileTransfer
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(4);

    /// <summary>
    /// Copies <paramref name="mebibytes"/> MiB peer→guest and guest→peer and asserts equal sha256
    /// each way. The guest keeps serving its file (<see cref="Transfer.GuestFileUrl"/>) afterwards.
    /// </summary>
    /// <param name="port">The peer serves on it, the guest on the next one; distinct per call in one session.</param>
    /// <param name="timeout">Per step; slow personalities need more than the default 4 minutes.</param>
    public static async Task<Transfer> AssertBothWaysAsync(Guest guest, NetworkNamespace peer, string peerAddress, string guestAddress, int mebibytes,
        int port = 8080, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        // Host -> guest: busybox httpd in the namespace serves a random file; the guest fetches it.
        await peer.RunToolAsync($"dd if=/dev/urandom of={peer.ScratchInRoot}/blob bs=1M count={mebibytes} 2>/dev/null");
        var hostSum = Sha256Of(await peer.RunToolAsync($"sha256sum {peer.ScratchInRoot}/blob"));
        peer.StartTool($"busybox httpd -f -p {port} -h {peer.ScratchInRoot}");
        await Task.Delay(300);
        var clock = Stopwatch.StartNew();
        var guestSum = Sha256Of(await guest.RunCheckedAsync($"wget -q -O /tmp/blob http://{peerAddress}:{port}/blob && sha256sum /tmp/blob", limit));
        var toGuest = clock.Elapsed;
        Assert.Equal(hostSum, guestSum);

        // Guest -> host: the guest serves its own random file; the namespace fetches it.
        await guest.RunCheckedAsync($"rm /tmp/blob; mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/out bs=1M count={mebibytes} 2>/dev/null && httpd -p {port + 1} -h /tmp/www", limit);
        var sent = Sha256Of(await guest.RunCheckedAsync("sha256sum /tmp/www/out", limit));
        string url = $"http://{guestAddress}:{port + 1}/out";
        clock.Restart();
        var received = Sha256Of(await peer.RunToolAsync($"busybox wget -q -O - {url} | sha256sum", limit));
        var toHost = clock.Elapsed;
        Assert.Equal(sent, received);
        return new Transfer(toGuest, toHost, url, sent);
    }

    /// <summary>The digest from a <c>sha256sum</c> output line.</summary>
    public static string Sha256Of(string output) => output.Trim().Split(' ', 2)[0];
}

/// <summary>What a both-ways copy took, and the guest's file for further fetches.</summary>
/// <param name="HostToGuest">Time of the guest's fetch.</param>
/// <param name="GuestToHost">Time of the peer's fetch.</param>
/// <param name="GuestFileUrl">Where the guest still serves its file.</param>
/// <param name="GuestFileSha256">That file's digest.</param>
internal sealed record Transfer(TimeSpan HostToGuest, TimeSpan GuestToHost, string GuestFileUrl, string GuestFileSha256);
