using Polynic.Rig.Guests;
using Polynic.Rig.Network;

namespace Polynic.EndToEnd.Tests.Network;

/// <summary>
/// A random file copied over TCP each way between a guest and its peer namespace (busybox
/// httpd on the serving side, wget on the fetching side), compared by sha256 on both ends.
/// </summary>
internal static class FileTransfer
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(4);

    /// <summary>Copies <paramref name="mebibytes"/> MiB peer→guest and guest→peer and asserts equal sha256 each way.</summary>
    public static async Task AssertBothWaysAsync(Guest guest, NetworkNamespace peer, string peerAddress, string guestAddress, int mebibytes, int port = 8080)
    {
        // Host -> guest: busybox httpd in the namespace serves a random file; the guest fetches it.
        await peer.RunToolAsync($"dd if=/dev/urandom of={peer.ScratchInRoot}/blob bs=1M count={mebibytes} 2>/dev/null");
        var hostSum = Sha256Of(await peer.RunToolAsync($"sha256sum {peer.ScratchInRoot}/blob"));
        peer.StartTool($"busybox httpd -f -p {port} -h {peer.ScratchInRoot}");
        await Task.Delay(300);
        var guestSum = Sha256Of(await guest.RunCheckedAsync($"wget -q -O /tmp/blob http://{peerAddress}:{port}/blob && sha256sum /tmp/blob", Long));
        Assert.Equal(hostSum, guestSum);

        // Guest -> host: the guest serves its own random file; the namespace fetches it.
        await guest.RunCheckedAsync($"rm /tmp/blob; mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/out bs=1M count={mebibytes} 2>/dev/null && httpd -p {port + 1} -h /tmp/www", Long);
        var sent = Sha256Of(await guest.RunCheckedAsync("sha256sum /tmp/www/out", Long));
        var received = Sha256Of(await peer.RunToolAsync($"busybox wget -q -O - http://{guestAddress}:{port + 1}/out | sha256sum", Long));
        Assert.Equal(sent, received);
    }

    /// <summary>The digest from a <c>sha256sum</c> output line.</summary>
    public static string Sha256Of(string output) => output.Trim().Split(' ', 2)[0];
}
