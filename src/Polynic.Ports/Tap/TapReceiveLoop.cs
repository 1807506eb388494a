using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Native;

namespace Polynic.Ports.Tap;

/// <summary>
/// The tap's receive thread: poll() on the tap descriptor and a wake-up eventfd, then read frames
/// until EAGAIN into one preallocated buffer and hand each to the receiver. Nothing is allocated
/// per frame. The thread ends when stopped or when the interface is gone.
/// </summary>
internal sealed unsafe class TapReceiveLoop
{
    // Largest tap MTU (65535) plus Ethernet and VLAN headers fits; the kernel truncates anything
    // longer (tun_put_user), which a runt/size check would not catch, so keep the margin.
    private const int FrameBufferSize = 65 * 1024;
    private const int EthernetHeaderLength = 14;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly string _portName;
    private readonly FileDescriptor _tap;
    private readonly int _headerLength;
    private readonly IPortReceiver _receiver;
    private readonly PortCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<string> _linkLost;
    private readonly FileDescriptor _wake = EventFd.Create();
    private readonly byte[] _buffer;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private bool _receiverFaultLogged;

    /// <summary>
    /// Prepares the thread; <paramref name="linkLost"/> is called once on it with the reason the
    /// interface became unusable (not when stopped).
    /// </summary>
    public TapReceiveLoop(string portName, FileDescriptor tap, bool vnetHeader, IPortReceiver receiver,
        PortCounters counters, ILogger logger, Action<string> linkLost)
    {
        _portName = portName;
        _tap = tap;
        _headerLength = vnetHeader ? VirtioNetHeader.Size : 0;
        _receiver = receiver;
        _counters = counters;
        _logger = logger;
        _linkLost = linkLost;
        _buffer = GC.AllocateUninitializedArray<byte>(FrameBufferSize + _headerLength, pinned: true);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{portName} receive" };
    }

    /// <summary>Whether the receive thread is still running.</summary>
    public bool IsRunning => _thread.IsAlive;

    public void Start() => _thread.Start();

    /// <summary>Stops the thread and waits for it, unless called from a receiver callback on that thread.</summary>
    public void Stop()
    {
        _stopping = true;
        EventFd.Signal(_wake);
        if (Thread.CurrentThread != _thread && _thread.IsAlive && !_thread.Join(StopTimeout))
            TapLog.ReceiveThreadStuck(_logger, _portName, (int)StopTimeout.TotalSeconds);
        // The wake descriptor is leased by the thread while it runs, so disposing it here is safe.
        _wake.Dispose();
    }

    private void Run()
    {
        if (!_tap.TryLease(out var tap)) return;
        using (tap)
        {
            if (!_wake.TryLease(out var wake)) return;
            string? lost;
            using (wake) lost = Pump(tap.Number, wake.Number);
            if (lost is not null && !_stopping) _linkLost(lost);
        }
    }

    /// <returns>null when stopped; otherwise why the interface can no longer be used.</returns>
    private string? Pump(int tap, int wake)
    {
        fixed (byte* buffer = _buffer)
        {
            while (!_stopping)
            {
                int errno = Poll.Wait(tap, wake, -1, out short events, out bool woken);
                if (errno != 0) return $"poll failed: {Errno.Describe(errno)}";
                if (woken) return null;

                if ((events & LibC.POLLIN) != 0 && Drain(tap, buffer) is { } readFailure) return readFailure;
                // tun_chr_poll reports EPOLLERR once the interface is detached or unregistering.
                if ((events & (LibC.POLLERR | LibC.POLLHUP | LibC.POLLNVAL)) != 0)
                    return $"the interface was removed (poll reported 0x{(ushort)events:x})";
            }
            return null;
        }
    }

    private string? Drain(int tap, byte* buffer)
    {
        while (!_stopping)
        {
            nint read = LibC.read(tap, buffer, (nuint)_buffer.Length);
            if (read < 0)
            {
                int errno = LibC.LastErrno;
                if (errno == Errno.EAGAIN) return null;
                if (errno == Errno.EINTR) continue;
                _counters.CountReceiveError();
                // EBADFD: drivers/net/tun.c once the netdev was unregistered ("ip link del").
                return $"read failed: {Errno.Describe(errno)}";
            }
            Deliver(buffer, (int)read);
        }
        return null;
    }

    private void Deliver(byte* buffer, int length)
    {
        // With IFF_VNET_HDR each read starts with virtio_net_hdr_v1. Since TUNSETOFFLOAD is 0 the
        // kernel never sets NEEDS_CSUM or a gso_type, so the header carries nothing we must act on.
        int frameLength = length - _headerLength;
        if (frameLength < EthernetHeaderLength)
        {
            _counters.CountReceiveError();
            return;
        }
        _counters.CountReceived(frameLength);
        try
        {
            _receiver.Receive(new ReadOnlySpan<byte>(buffer + _headerLength, frameLength));
        }
        catch (Exception exception)
        {
            // A port never lets a NIC's bug kill its thread (and with it the process).
            _counters.CountReceiveError();
            if (!_receiverFaultLogged)
            {
                _receiverFaultLogged = true;
                TapLog.ReceiverFault(_logger, _portName, exception);
            }
        }
    }
}
