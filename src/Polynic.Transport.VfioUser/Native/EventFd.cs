namespace Polynic.Transport.VfioUser.Native;

/// <summary>
/// Operations on Linux eventfds: the VMM hands the server one per interrupt vector and the
/// server "triggers the IRQ by writing 1 to the eventfd" (spec, VFIO_USER_DEVICE_SET_IRQS).
/// </summary>
internal static unsafe class EventFd
{
    /// <summary>Adds 1 to the eventfd's counter; false if the write failed (the descriptor is not an eventfd, or was closed).</summary>
    public static bool Signal(FileDescriptor fd)
    {
        ulong one = 1;
        while (true)
        {
            nint n = LibC.write(fd, &one, sizeof(ulong));
            if (n == sizeof(ulong)) return true;
            // EAGAIN: the counter is at its maximum; the interrupt is pending anyway.
            if (n < 0 && LibC.LastErrno == LibC.EAGAIN) return true;
            if (n < 0 && LibC.LastErrno == LibC.EINTR) continue;
            return false;
        }
    }

    /// <summary>Creates a non-blocking eventfd (for waking pollers and for tests).</summary>
    public static FileDescriptor Create()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        FileDescriptor.Check(fd, "eventfd");
        return new FileDescriptor(fd);
    }

    /// <summary>Reads and clears the counter of a non-blocking eventfd; 0 if it was not signalled.</summary>
    public static ulong Drain(FileDescriptor fd)
    {
        ulong value = 0;
        nint n = LibC.read(fd, &value, sizeof(ulong));
        return n == sizeof(ulong) ? value : 0;
    }
}
