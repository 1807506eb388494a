namespace Polynic.Ports.Native;

/// <summary>
/// An eventfd used only to wake a thread blocked in poll() (eventfd(2)): signalled once, it
/// stays readable, which is exactly the "stop now" a receive loop needs.
/// </summary>
internal sealed unsafe class EventSignal : IDisposable
{
    private readonly FileDescriptor _fd;

    public EventSignal()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0) throw new IOException($"eventfd failed: {Errno.Describe(LibC.LastErrno)}");
        _fd = new FileDescriptor(fd);
    }

    /// <summary>The descriptor to poll for POLLIN.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>Makes the eventfd readable; harmless if called more than once or after disposal.</summary>
    public void Signal()
    {
        if (!_fd.TryLease(out var lease)) return;
        using (lease)
        {
            ulong one = 1;
            _ = LibC.write(lease.Number, (byte*)&one, sizeof(ulong));
        }
    }

    public void Dispose() => _fd.Dispose();
}
