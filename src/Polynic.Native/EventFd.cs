namespace Polynic.Native;

/// <summary>
/// Linux eventfds (eventfd(2)): to wake a thread blocked in poll (signalled once, it stays
/// readable until drained) and to raise a guest interrupt (vfio-user: the server "triggers the
/// IRQ by writing 1 to the eventfd").
/// </summary>
public static unsafe class EventFd
{
    /// <summary>Creates a non-blocking, close-on-exec eventfd with counter 0.</summary>
    /// <exception cref="IOException">eventfd failed (e.g. out of descriptors).</exception>
    public static FileDescriptor Create()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        FileDescriptor.Check(fd, "eventfd");
        return new FileDescriptor(fd);
    }

    /// <summary>
    /// Adds 1 to the counter. Never throws: false if the write failed (not an eventfd) or the
    /// descriptor is already closed, so it is harmless after disposal.
    /// </summary>
    public static bool Signal(FileDescriptor eventFd)
    {
        if (!eventFd.TryLease(out var lease)) return false;
        using (lease)
        {
            ulong one = 1;
            while (true)
            {
                nint n = LibC.write(lease.Number, &one, sizeof(ulong));
                if (n == sizeof(ulong)) return true;
                int errno = n < 0 ? LibC.LastErrno : 0;
                // EAGAIN: the counter is at its maximum, so it is readable (pending) anyway.
                if (errno == Errno.EAGAIN) return true;
                if (errno == Errno.EINTR) continue;
                return false;
            }
        }
    }

    /// <summary>Reads and clears the counter of a non-blocking eventfd; 0 if it was not signalled or is closed.</summary>
    public static ulong Drain(FileDescriptor eventFd)
    {
        if (!eventFd.TryLease(out var lease)) return 0;
        using (lease)
        {
            ulong value = 0;
            nint n = LibC.read(lease.Number, &value, sizeof(ulong));
            return n == sizeof(ulong) ? value : 0;
        }
    }
}
