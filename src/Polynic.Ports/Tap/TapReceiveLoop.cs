using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Core.Nic.Offload;
using Polynic.Native;
using Polynic.Ports.Sockets;

namespace Polynic.Ports.Tap;

/// <summary>
/// The tap's receive thread (a <see cref="PollingReceiveLoop"/>): poll() on the tap descriptor and
/// a wake-up eventfd, then read frames until EAGAIN into one preallocated buffer and hand each to
/// the receiver. Nothing is allocated per frame. The thread ends when stopped or when the
/// interface is gone.
/// </summary>
internal sealed unsafe class TapReceiveLoop : PollingReceiveLoop
{
    // Largest tap MTU (65535) plus Ethernet and VLAN headers fits; the kernel truncates anything
    // longer (tun_put_user), which a runt/size check would not catch, so keep the margin.
    private const int FrameBufferSize = 65 * 1024;
    private const int EthernetHeaderLength = 14;

    private readonly FileDescriptor _tap;
    private readonly int _headerLength;
    private readonly ReceiverGuard _receiver;
    private readonly PortCapabilities _offloads;

    /// <summary>
    /// Prepares the thread; <paramref name="linkLost"/> is called once on it with the reason the
    /// interface became unusable (not when stopped).
    /// </summary>
    public TapReceiveLoop(string portName, FileDescriptor tap, bool vnetHeader, PortCapabilities offloads, IPortReceiver receiver,
        PortCounters counters, ILogger logger, Action<string> linkLost)
        : base(portName, FrameBufferSize + (vnetHeader ? VirtioNetHeader.Length : 0), counters, logger,
            linkLost, TapLog.ReceiveThreadStuck)
    {
        _tap = tap;
        _headerLength = vnetHeader ? VirtioNetHeader.Length : 0;
        _offloads = offloads;
        _receiver = new ReceiverGuard(portName, receiver, counters, logger, TapLog.ReceiverFault);
    }

    protected override void Run()
    {
        if (!_tap.TryLease(out var tap)) return;
        using (tap) Pump(tap.Number);
    }

    protected override string? OnPolled(int fd, short events)
    {
        if ((events & LibC.POLLIN) != 0 && Drain(fd) is { } readFailure) return readFailure;
        // tun_chr_poll reports EPOLLERR once the interface is detached or unregistering.
        if ((events & (LibC.POLLERR | LibC.POLLHUP | LibC.POLLNVAL)) != 0)
            return $"the interface was removed (poll reported 0x{(ushort)events:x})";
        return null;
    }

    protected override nint Read(int fd, byte* buffer)
    {
        nint read = LibC.read(fd, buffer, (nuint)Buffer.Length);
        return read < 0 ? -LibC.LastErrno : read;
    }

    protected override string? OnReadFailed(int errno)
    {
        if (errno == Errno.EINTR) return null;
        Counters.CountReceiveError();
        // EBADFD: drivers/net/tun.c once the netdev was unregistered ("ip link del").
        return $"read failed: {Errno.Describe(errno)}";
    }

    protected override void Deliver(byte* buffer, int length)
    {
        int frameLength = length - _headerLength;
        if (frameLength < EthernetHeaderLength)
        {
            Counters.CountReceiveError();
            return;
        }
        var frame = new ReadOnlySpan<byte>(buffer + _headerLength, frameLength);
        // A port never lets a NIC's bug kill its thread (and with it the process): the guard
        // counts a fault as a receive error and logs only the first.
        if (_offloads == PortCapabilities.None)
        {
            // TUNSETOFFLOAD 0: the kernel sets neither NEEDS_CSUM nor a gso_type, so the header
            // (if any) carries nothing to act on.
            _receiver.Frame(frame);
            return;
        }
        if (!VirtioNetHeader.TryRead(new ReadOnlySpan<byte>(buffer, _headerLength), frameLength, out var offload)
            || (offload.Requires & ~_offloads) != 0)
        {
            Counters.CountReceiveHeaderError();
            return;
        }
        if (offload.NeedsWork || offload.DataValid) _receiver.Frame(frame, offload);
        else _receiver.Frame(frame);
    }
}
