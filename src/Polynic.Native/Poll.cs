namespace Polynic.Native;

/// <summary>poll(2) on one descriptor plus a wake-up eventfd: how Polynic's threads block.</summary>
public static unsafe class Poll
{
    /// <summary>
    /// Waits until <paramref name="fd"/> has <see cref="LibC.POLLIN"/> or an error condition, until
    /// <paramref name="wake"/> is readable, or until the timeout passes (-1: no timeout). Both are
    /// raw numbers the caller holds leases on; a negative <paramref name="wake"/> is ignored (poll
    /// skips negative descriptors). EINTR is retried.
    /// </summary>
    /// <param name="fd">The descriptor to wait on.</param>
    /// <param name="wake">The eventfd that ends the wait, or -1.</param>
    /// <param name="timeoutMilliseconds">As poll(2); -1 waits indefinitely.</param>
    /// <param name="events">revents of <paramref name="fd"/> (POLLIN, POLLERR, POLLHUP, POLLNVAL); 0 on timeout.</param>
    /// <param name="woken">Whether <paramref name="wake"/> was readable.</param>
    /// <returns>0, or the errno poll failed with.</returns>
    public static int Wait(int fd, int wake, int timeoutMilliseconds, out short events, out bool woken)
    {
        var fds = stackalloc LibC.PollFd[2];
        while (true)
        {
            fds[0] = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
            fds[1] = new LibC.PollFd { Fd = wake, Events = LibC.POLLIN };
            if (LibC.poll(fds, 2, timeoutMilliseconds) >= 0)
            {
                events = fds[0].Revents;
                woken = fds[1].Revents != 0;
                return 0;
            }
            int errno = LibC.LastErrno;
            if (errno == Errno.EINTR) continue;
            events = 0;
            woken = false;
            return errno;
        }
    }

    /// <summary>
    /// Waits until <paramref name="fd"/> is readable (or at end of stream, or failed, so that the
    /// next read reports it) or <paramref name="wake"/> is signalled. False when the timeout passed,
    /// <paramref name="wake"/> fired, or poll failed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">A descriptor was already closed.</exception>
    public static bool WaitReadable(FileDescriptor fd, FileDescriptor? wake, int timeoutMilliseconds)
    {
        bool addedFd = false, addedWake = false;
        try
        {
            fd.DangerousAddRef(ref addedFd);
            wake?.DangerousAddRef(ref addedWake);
            int errno = Wait(fd.Number, wake?.Number ?? -1, timeoutMilliseconds, out short events, out bool woken);
            return errno == 0 && events != 0 && !woken;
        }
        finally
        {
            if (addedFd) fd.DangerousRelease();
            if (addedWake) wake!.DangerousRelease();
        }
    }
}
