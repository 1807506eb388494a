using Polynic.Native;

namespace Polynic.Transport.VfioUser.Native;

/// <summary>
/// A MAP_SHARED mapping of part of a file the client passed (guest RAM in a memfd). The
/// mapping keeps its own reference to the file, so the descriptor is closed right after mmap.
/// </summary>
internal sealed unsafe class SharedMapping : IDisposable
{
    private byte* _base;
    private readonly nuint _mappedLength;

    private SharedMapping(byte* mappedBase, nuint mappedLength, byte* start, ulong length, bool writable)
    {
        _base = mappedBase;
        _mappedLength = mappedLength;
        Start = start;
        Length = length;
        Writable = writable;
    }

    /// <summary>First byte of the requested range (the page-aligned mapping may begin earlier).</summary>
    public byte* Start { get; }

    /// <summary>Bytes in the requested range.</summary>
    public ulong Length { get; }

    /// <summary>Whether the mapping was made with PROT_WRITE.</summary>
    public bool Writable { get; }

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="fd"/> from <paramref name="offset"/>.
    /// Refuses ranges beyond the file's current end: touching such pages would raise SIGBUS and
    /// end the whole process. Returns an errno on failure.
    /// </summary>
    public static int TryMap(FileDescriptor fd, ulong offset, ulong length, bool writable, out SharedMapping? mapping)
    {
        mapping = null;
        long fileSize = LibC.lseek(fd, 0, LibC.SEEK_END);
        if (fileSize < 0) return LibC.LastErrno == 0 ? Errno.EINVAL : LibC.LastErrno;
        if (offset > (ulong)fileSize || length > (ulong)fileSize - offset) return Errno.EINVAL;

        ulong page = (ulong)Environment.SystemPageSize;
        ulong alignedOffset = offset & ~(page - 1);
        ulong slack = offset - alignedOffset;
        ulong mappedLength = length + slack;
        if (mappedLength > long.MaxValue) return Errno.EINVAL;
        int protection = LibC.PROT_READ | (writable ? LibC.PROT_WRITE : 0);
        void* address = LibC.mmap(null, (nuint)mappedLength, protection, LibC.MAP_SHARED, fd, (long)alignedOffset);
        if (address == (void*)-1) return LibC.LastErrno;
        mapping = new SharedMapping((byte*)address, (nuint)mappedLength, (byte*)address + slack, length, writable);
        return 0;
    }

    /// <summary>
    /// Whether the file can still shrink under the mapping (no F_SEAL_SHRINK). A client that
    /// shrinks it would make later accesses raise SIGBUS; QEMU's memfd backend seals by default.
    /// </summary>
    public static bool CanShrink(FileDescriptor fd)
    {
        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS, 0);
        return seals < 0 || (seals & LibC.F_SEAL_SHRINK) == 0;
    }

    /// <summary>Unmaps. The caller guarantees no access is in flight (the DMA space's write lock).</summary>
    public void Dispose()
    {
        if (_base == null) return;
        LibC.munmap(_base, _mappedLength);
        _base = null;
    }
}
