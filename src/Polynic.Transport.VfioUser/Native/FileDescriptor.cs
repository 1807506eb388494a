using System.Runtime.InteropServices;

namespace Polynic.Transport.VfioUser.Native;

/// <summary>
/// An owned Linux file descriptor (socket, eventfd, memfd). Closing is idempotent and happens
/// exactly once, even when a descriptor is disposed while another thread is using it.
/// </summary>
internal sealed class FileDescriptor : SafeHandle
{
    /// <summary>Used by the P/Invoke marshaller.</summary>
    public FileDescriptor() : base(new IntPtr(-1), ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptor(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor number, for logs and for passing in SCM_RIGHTS.</summary>
    public int Number => (int)handle.ToInt64();

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.close((int)handle.ToInt64()) == 0;

    /// <summary>Throws <see cref="IOException"/> naming <paramref name="what"/> and errno when <paramref name="result"/> is negative.</summary>
    public static int Check(int result, string what)
    {
        if (result < 0) throw new IOException($"{what} failed: {Errno.Describe(LibC.LastErrno)}");
        return result;
    }
}
