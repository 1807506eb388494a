using System.Runtime.InteropServices;

namespace Polynic.Ports.Native;

/// <summary>
/// An owned Linux file descriptor (tap, eventfd, socket). Closing happens exactly once and only
/// after every thread that took a reference with <see cref="Lease"/> has released it.
/// </summary>
internal sealed class FileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptor(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor number.</summary>
    public int Number => (int)handle.ToInt64();

    /// <summary>
    /// Keeps the descriptor open until the returned lease is disposed; false if it is already
    /// closed (the caller then treats the port as gone instead of throwing).
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

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.close((int)handle.ToInt64()) == 0;

    /// <summary>A reference that keeps a descriptor open; dispose exactly once.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly FileDescriptor? _owner;

        internal Lease(FileDescriptor? owner) => _owner = owner;

        /// <summary>The descriptor number, valid while the lease is held.</summary>
        public int Number => _owner?.Number ?? -1;

        /// <inheritdoc/>
        public void Dispose() => _owner?.DangerousRelease();
    }
}
