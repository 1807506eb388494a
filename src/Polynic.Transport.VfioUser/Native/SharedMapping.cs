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
        if (!ProcessBudget.TryReserve(length)) return Errno.ENOSPC;
        int errno = TryMapReserved(fd, offset, length, writable, out mapping);
        if (errno != 0) ProcessBudget.Release(length);
        return errno;
    }

    private static int TryMapReserved(FileDescriptor fd, ulong offset, ulong length, bool writable, out SharedMapping? mapping)
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
    /// Why pages of this file could vanish under a mapping, or null when they cannot. A page
    /// that vanishes turns the next device access into SIGBUS, which ends the whole process and
    /// every device it serves, so only files that cannot lose pages are mapped:
    /// <list type="bullet">
    /// <item>the file must be sealed against shrinking (F_SEAL_SHRINK; QEMU's
    /// memory-backend-memfd seals by default, memory-backend-file files cannot be sealed);</item>
    /// <item>it must not be on hugetlbfs: a hole punched into it is refilled from the huge page
    /// pool on the next touch, and an empty pool raises SIGBUS, seal or not.</item>
    /// </list>
    /// </summary>
    public static unsafe string? WhyPagesCanVanish(FileDescriptor fd)
    {
        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS, 0);
        if (seals < 0) return "the file cannot be sealed (not a memfd)";
        if ((seals & LibC.F_SEAL_SHRINK) == 0) return "the memfd is not sealed against shrinking (F_SEAL_SHRINK)";
        byte* statfs = stackalloc byte[128];
        if (LibC.fstatfs(fd, statfs) != 0) return "fstatfs failed";
        if (*(long*)statfs == LibC.HUGETLBFS_MAGIC) return "the memfd is backed by huge pages (a punched hole may not be refillable)";
        return null;
    }

    /// <summary>Unmaps. The caller guarantees no access is in flight (the DMA space's write lock).</summary>
    public void Dispose()
    {
        if (_base == null) return;
        LibC.munmap(_base, _mappedLength);
        _base = null;
        ProcessBudget.Release(Length);
    }

    /// <summary>
    /// What all clients of the process may map together. Each mapping is one entry in the
    /// kernel's per-process map table (vm.max_map_count, 65530 by default) and takes address
    /// space; when the runtime itself then cannot map memory it aborts the whole process. A
    /// quarter of the map table and half the 47-bit address space are left to clients.
    /// </summary>
    internal static class ProcessBudget
    {
        private static readonly long MaxMappings = ReadMaxMapCount() / 4;
        private const ulong MaxBytes = 1UL << 46;
        private static readonly object Gate = new();
        private static long _mappings;
        private static ulong _bytes;

        /// <summary>Mappings held now (for tests and diagnostics).</summary>
        public static long Mappings
        {
            get { lock (Gate) return _mappings; }
        }

        public static bool TryReserve(ulong length)
        {
            lock (Gate)
            {
                if (_mappings >= MaxMappings || length > MaxBytes - _bytes) return false;
                _mappings++;
                _bytes += length;
                return true;
            }
        }

        public static void Release(ulong length)
        {
            lock (Gate)
            {
                _mappings--;
                _bytes -= length;
            }
        }

        private static long ReadMaxMapCount()
        {
            try
            {
                return long.TryParse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), out long value) && value > 0 ? value : 65530;
            }
            catch (IOException)
            {
                return 65530;
            }
        }
    }
}
