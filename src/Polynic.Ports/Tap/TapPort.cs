using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Native;

namespace Polynic.Ports.Tap;

/// <summary>
/// A port on a Linux TAP interface (linux/if_tun.h): frames the NIC sends appear on the host's
/// interface, frames the host sends to the interface reach the NIC.
/// </summary>
/// <remarks>
/// <para>Sending writes the caller's span with one write/writev system call; nothing is allocated.
/// With <see cref="TapPortOptions.VnetHeader"/> a 12-byte virtio_net_hdr_v1 (virtio 1.2, 5.1.6)
/// built on the stack goes in front, so partial checksums and TCP segmentation are passed to
/// the kernel untouched.</para>
/// <para>Receiving runs on a dedicated thread (see <see cref="Start"/>). With the virtio-net header
/// and a receiver whose <see cref="IPortReceiver.ReceiveCapabilities"/> include them, the port sets
/// TUNSETOFFLOAD to TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6, so the kernel hands over 64 KiB GSO frames and
/// partial checksums unfinished and the NIC's guest does that work (QEMU's virtio-net does the same
/// with GUEST_TSO); every header read is checked against its frame, and a bad one is a counted drop
/// (<see cref="PortCounters.ReceiveHeaderErrors"/>). Otherwise TUNSETOFFLOAD stays 0 and the kernel
/// finishes checksums and segments before handing frames over.</para>
/// <para>If the interface disappears (deleted, its namespace destroyed) the port goes link-down
/// once: it logs the reason, calls <see cref="IPortReceiver.LinkChanged"/>(false) on the receive
/// thread, and from then on <see cref="Send(ReadOnlySpan{byte})"/> returns false and counts.</para>
/// </remarks>
public sealed unsafe class TapPort : IPort
{
    private const int EthernetHeaderLength = 14;

    private readonly FileDescriptor _tap;
    private readonly ILogger _logger;
    private readonly ReceiveLoopLifecycle _lifecycle;
    private IPortReceiver? _receiver;

    private TapPort(TapDevice.Opened opened, bool vnetHeader, ILogger logger)
    {
        _tap = opened.Descriptor;
        InterfaceName = opened.InterfaceName;
        CreatedInterface = opened.CreatedInterface;
        VnetHeader = vnetHeader;
        _logger = logger;
        _lifecycle = new ReceiveLoopLifecycle(this, Name);
        Capabilities = vnetHeader ? PortCapabilities.Checksum | PortCapabilities.Segmentation : PortCapabilities.None;
    }

    /// <summary>
    /// Opens /dev/net/tun and creates (or attaches to) the TAP interface named in
    /// <paramref name="options"/>. Needs root or CAP_NET_ADMIN.
    /// </summary>
    /// <param name="options">Interface name, virtio-net header, whether to bring the interface up.</param>
    /// <param name="logger">Receives the open and link-down events; none if null.</param>
    /// <returns>The port, link up, not yet delivering frames (call <see cref="Start"/>).</returns>
    /// <exception cref="ArgumentException">The interface name is not valid.</exception>
    /// <exception cref="PortOpenException">A system call failed; the message names the step and errno.</exception>
    public static TapPort Open(TapPortOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var opened = TapDevice.Open(options);
        var port = new TapPort(opened, options.VnetHeader, logger ?? NullLogger.Instance);
        TapLog.Opened(port._logger, port.Name, options.VnetHeader ? "vnet header, checksum+TSO on send" : "plain frames",
            opened.CreatedInterface ? "created" : "attached to existing");
        return port;
    }

    /// <inheritdoc/>
    public string Name => $"tap:{InterfaceName}";

    /// <summary>The interface's name as the kernel chose it (differs from the option for a "%d" pattern).</summary>
    public string InterfaceName { get; }

    /// <summary>
    /// True if the port created the interface; it disappears when the port is disposed. False if
    /// the port attached to a persistent tap, which stays.
    /// </summary>
    public bool CreatedInterface { get; }

    /// <summary>Whether frames are exchanged with a virtio-net header (<see cref="TapPortOptions.VnetHeader"/>).</summary>
    public bool VnetHeader { get; }

    /// <summary>Frames, bytes and failures in both directions.</summary>
    public PortCounters Counters { get; } = new();

    /// <inheritdoc/>
    public bool LinkUp => _lifecycle.LinkUp;

    /// <inheritdoc/>
    /// <remarks>Checksum and Segmentation with the virtio-net header, None without.</remarks>
    public PortCapabilities Capabilities { get; }

    /// <summary>
    /// Offloads the kernel may leave undone in frames it hands to the port (TUNSETOFFLOAD), chosen in
    /// <see cref="Start"/> from what the receiver takes; None before and without the virtio-net header.
    /// </summary>
    public PortCapabilities ReceiveOffloads { get; private set; }

    /// <summary>Whether the receive thread runs (for tests: it must be gone after Dispose).</summary>
    internal bool IsReceiving => _lifecycle.IsReceiving;

    /// <inheritdoc/>
    /// <remarks>
    /// Starts the receive thread. Frames and link-down arrive on that thread, one at a time.
    /// A receiver that throws loses that frame (counted, logged once); the thread goes on.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The port was already started.</exception>
    /// <exception cref="ObjectDisposedException">The port was disposed.</exception>
    public void Start(IPortReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        _lifecycle.Start(() =>
        {
            _receiver = receiver;
            ReceiveOffloads = VnetHeader ? NegotiateReceiveOffloads(receiver.ReceiveCapabilities) : PortCapabilities.None;
            return new TapReceiveLoop(Name, _tap, VnetHeader, ReceiveOffloads, receiver, Counters, _logger, OnInterfaceLost);
        });
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> frame) => Send(frame, default);

    /// <inheritdoc/>
    /// <remarks>
    /// Without the virtio-net header, any offload is refused (false, counted). Malformed offload
    /// descriptions are refused by the kernel (EINVAL), which is counted the same way.
    /// </remarks>
    public bool Send(ReadOnlySpan<byte> frame, in FrameOffload offload)
    {
        if (!_lifecycle.LinkUp || frame.Length < EthernetHeaderLength || !Accepts(offload) || !_tap.TryLease(out var tap))
        {
            Counters.CountSendFailure();
            return false;
        }

        nint written;
        int errno = 0;
        using (tap)
        {
            fixed (byte* data = frame)
            {
                if (VnetHeader)
                {
                    byte* header = stackalloc byte[VirtioNetHeader.Length];
                    VirtioNetHeader.Write(new Span<byte>(header, VirtioNetHeader.Length), offload);
                    var iov = stackalloc LibC.IoVec[2];
                    iov[0] = new LibC.IoVec { Base = header, Length = VirtioNetHeader.Length };
                    iov[1] = new LibC.IoVec { Base = data, Length = (nuint)frame.Length };
                    written = LibC.writev(tap.Number, iov, 2);
                }
                else
                {
                    written = LibC.write(tap.Number, data, (nuint)frame.Length);
                }
                if (written < 0) errno = LibC.LastErrno;
            }
        }

        if (written < 0)
        {
            Counters.CountSendFailure();
            // The receive thread sees the same loss (POLLERR) and notifies the NIC on its own thread.
            if (MeansDeviceGone(errno)) MarkLinkDown($"write failed: {Errno.Describe(errno)}");
            return false;
        }
        Counters.CountSent(frame.Length);
        return true;
    }

    /// <summary>Stops the receive thread, closes the tap and with it removes an interface the port created.</summary>
    public void Dispose()
    {
        if (!_lifecycle.Dispose()) return;
        // Closing the last descriptor of a non-persistent tap unregisters the interface (tun_detach).
        _tap.Dispose();
    }

    /// <summary>
    /// Errors after which a tap descriptor is useless: the kernel detached the interface from it
    /// (drivers/net/tun.c returns EBADFD once the netdev is unregistered) or the device failed.
    /// </summary>
    private static bool MeansDeviceGone(int errno) =>
        errno is Errno.EBADFD or Errno.EBADF or Errno.EIO or Errno.ENODEV or Errno.ENXIO;

    private bool Accepts(in FrameOffload offload)
    {
        var needed = PortCapabilities.None;
        if (offload.NeedsChecksum) needed |= PortCapabilities.Checksum;
        if (offload.GsoType != GsoType.None) needed |= PortCapabilities.Segmentation;
        return (Capabilities & needed) == needed;
    }

    private PortCapabilities NegotiateReceiveOffloads(PortCapabilities wanted)
    {
        wanted &= PortCapabilities.Checksum | PortCapabilities.Segmentation;
        if (wanted == PortCapabilities.None || !_tap.TryLease(out var tap)) return PortCapabilities.None;
        using (tap)
        {
            var set = TapDevice.SetReceiveOffloads(tap.Number, wanted, out int errno);
            if (errno != 0) TapLog.OffloadRefused(_logger, Name, Errno.Describe(errno));
            return set;
        }
    }

    private void OnInterfaceLost(string reason)
    {
        MarkLinkDown(reason);
        if (_lifecycle.IsDisposed || _receiver is not { } receiver) return;
        try
        {
            receiver.LinkChanged(false);
        }
        catch (Exception exception)
        {
            TapLog.ReceiverFault(_logger, Name, exception);
        }
    }

    private void MarkLinkDown(string reason)
    {
        if (_lifecycle.MarkLinkDown()) TapLog.LinkDown(_logger, Name, reason);
    }
}
