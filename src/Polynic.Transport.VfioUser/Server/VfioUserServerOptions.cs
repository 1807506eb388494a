using Polynic.Transport.VfioUser.Protocol;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>Limits and compatibility settings of a <see cref="VfioUserServer"/>.</summary>
public sealed record VfioUserServerOptions
{
    /// <summary>
    /// Largest data count of one REGION_READ/WRITE or DMA_READ/WRITE message the server accepts
    /// (offered as <c>max_data_xfer_size</c>). Messages are capped at this plus a small header;
    /// a longer one disconnects the client. 1 MiB (QEMU's default) unless set; at most 64 MiB.
    /// </summary>
    public int MaxDataTransferSize { get; init; } = 1024 * 1024;

    /// <summary>Most file descriptors accepted with one message (offered as <c>max_msg_fds</c>).</summary>
    public int MaxMessageFds { get; init; } = 16;

    /// <summary>
    /// Most DMA regions mapped at once (offered as <c>max_dma_maps</c>); DMA_MAP beyond it fails
    /// with ENOSPC. QEMU maps a few dozen (RAM blocks, ROMs); each window with a file is one of
    /// the process's limited memory mappings, shared by every device it serves.
    /// </summary>
    public int MaxDmaMaps { get; init; } = 1024;

    /// <summary>Byte layout of DMA_READ/WRITE messages; QEMU's client differs from the spec (see <see cref="Protocol.DmaMessageLayout"/>).</summary>
    public DmaMessageLayout DmaMessageLayout { get; init; } = DmaMessageLayout.Qemu;

    /// <summary>
    /// How long a DMA_READ/WRITE sent to the client may wait for its reply (the client is then
    /// disconnected: it broke the protocol), and how long a reply or request may wait for a client
    /// that stopped reading its socket.
    /// </summary>
    public TimeSpan ServerRequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a connected client may take to send VERSION. The device serves one client at a
    /// time, so one that connects and says nothing would otherwise keep every later client out.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the session's thread keeps looking for the client's next message (non-blocking
    /// polls) before it blocks in the kernel; zero blocks at once. A guest that drives a card
    /// through register reads sends the next one a few microseconds after each answer, and waking
    /// a thread whose CPU went idle costs far more than that on a virtual machine's vCPUs (about
    /// 100 us measured here against 12 us when the CPU is still busy): see docs/benchmarks.md.
    /// Spinning only follows a message, so an idle client costs nothing; and this is the longest
    /// spin: each session shortens it, down to none, while the client's messages come further
    /// apart than this, and lengthens it again when they come closer (<see cref="PollWindow"/>).
    /// </summary>
    public TimeSpan BusyPoll { get; init; } = TimeSpan.Zero;

    /// <summary>Remove a leftover socket file at the path before listening (a crashed server leaves one).</summary>
    public bool ReplaceStaleSocket { get; init; } = true;

    internal void Validate()
    {
        if (MaxDataTransferSize is < 4096 or > 64 * 1024 * 1024)
            throw new ArgumentOutOfRangeException(nameof(MaxDataTransferSize), MaxDataTransferSize, "Must be 4 KiB..64 MiB.");
        if (MaxMessageFds is < 1 or > 64)
            throw new ArgumentOutOfRangeException(nameof(MaxMessageFds), MaxMessageFds, "Must be 1..64.");
        if (MaxDmaMaps is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(MaxDmaMaps), MaxDmaMaps, "Must be 1..65535.");
        if (HandshakeTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "Must be positive.");
        if (ServerRequestTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ServerRequestTimeout), ServerRequestTimeout, "Must be positive.");
    }
}
