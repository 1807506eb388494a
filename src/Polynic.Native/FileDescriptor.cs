using System.Runtime.InteropServices;

namespace Polynic.Native;

/// <summary>
/// An owned Linux file descriptor (tap, socket, eventfd, memfd). Closing happens exactly once,
/// and only after every thread that took a reference (a <see cref="Lease"/>, or a P/Invoke that
/// takes the handle) has released it, so disposing while another thread uses it is safe.
/// </summary>
public sealed class FileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/> (a negative number gives an invalid handle).</summary>
    public FileDescriptor(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor number, for logs and SCM_RIGHTS; pass it to a call only under a <see cref="Lease"/>.</summary>
    public int Number => (int)handle.ToInt64();

    /// <summary>
    /// Keeps the descriptor open until the returned lease is disposed; false if it is already
    /// closed (the caller then treats the descriptor as gone instead of throwing).
    /// </summary>
    public bool TryLease(out Lease lease)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        lease = new Lease(added ? this : null);
        return added;
    }

    /// <summary>Throws <see cref="IOException"/> naming <paramref name="what"/> and errno when <paramref name="result"/> is negative.</summary>
    /// <returns><paramref name="result"/>.</returns>
    public static int Check(int result, string what)
    {
        if (result < 0) throw new IOException($"{what} failed: {Errno.Describe(LibC.LastErrno)}");
        return result;
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.close((int)handle.ToInt64()) == 0;

    /// <summary>A reference that keeps a descriptor open; dispose exactly once.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly FileDescriptor? _owner;

        internal Lease(FileDescriptor? owner) => _owner = owner;

        /// <summary>The descriptor number, valid while the lease is held (-1 for a failed lease).</summary>
        public int Number => _owner?.Number ?? -1;

        /// <inheritdoc/>
        public void Dispose() => _owner?.DangerousRelease();
    }
}
