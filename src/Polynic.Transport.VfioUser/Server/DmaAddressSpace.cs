using Polynic.Core.Memory;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>Reaches guest memory that the client did not share as a file: VFIO_USER_DMA_READ/WRITE messages.</summary>
internal interface IDmaMessenger
{
    /// <summary>Reads guest memory through DMA_READ messages; false on any failure.</summary>
    bool TryRead(ulong address, Span<byte> destination);

    /// <summary>Writes guest memory through DMA_WRITE messages; false on any failure.</summary>
    bool TryWrite(ulong address, ReadOnlySpan<byte> source);
}

/// <summary>One DMA_MAP window: mmap'd when the client sent a file descriptor, message-based otherwise.</summary>
internal sealed class DmaRegion(ulong address, ulong length, bool readable, bool writable, SharedMapping? mapping)
{
    public ulong Address { get; } = address;
    public ulong Length { get; } = length;
    public ulong End => Address + Length;
    public bool Readable { get; } = readable;
    public bool Writable { get; } = writable;
    public SharedMapping? Mapping { get; } = mapping;
}

/// <summary>
/// The client's DMA windows, as the <see cref="IGuestMemory"/> the device sees. Accesses to
/// mmap'd windows copy under a read lock; DMA_UNMAP takes the write lock, so it waits for
/// in-flight copies before munmap (spec, "VFIO_USER_DMA_UNMAP": the server "must release all
/// references to that DMA region before replying") and a device thread never touches an
/// unmapped page. Message-based windows are accessed outside the lock, since the reply may
/// only arrive after the session has handled further commands.
/// </summary>
internal sealed unsafe class DmaAddressSpace : IGuestMemory, IDisposable
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly IDmaMessenger _messenger;
    private readonly int _maxRegions;
    private DmaRegion[] _regions = [];
    private bool _disposed;

    public DmaAddressSpace(IDmaMessenger messenger, int maxRegions)
    {
        _messenger = messenger;
        _maxRegions = maxRegions;
    }

    /// <summary>Number of windows currently mapped.</summary>
    public int RegionCount => Volatile.Read(ref _regions).Length;

    /// <summary>Regions now mapped into this process (the rest are reached through DMA messages).</summary>
    public int MappedRegionCount
    {
        get
        {
            int mapped = 0;
            foreach (var region in Volatile.Read(ref _regions)) if (region.Mapping is not null) mapped++;
            return mapped;
        }
    }

    /// <summary>Bytes of guest memory the regions cover.</summary>
    public ulong TotalLength
    {
        get
        {
            ulong total = 0;
            foreach (var region in Volatile.Read(ref _regions)) total += region.Length;
            return total;
        }
    }

    /// <summary>Adds a window; returns 0 or an errno (EEXIST on overlap, ENOSPC past the limit). Takes ownership of the region's mapping only on success.</summary>
    public int Add(DmaRegion region)
    {
        _lock.EnterWriteLock();
        try
        {
            if (_disposed) return Errno.ENODEV;
            var regions = _regions;
            if (regions.Length >= _maxRegions) return Errno.ENOSPC;
            int index = 0;
            while (index < regions.Length && regions[index].Address < region.Address) index++;
            if (index > 0 && regions[index - 1].End > region.Address) return Errno.EEXIST;
            if (index < regions.Length && region.End > regions[index].Address) return Errno.EEXIST;
            var updated = new DmaRegion[regions.Length + 1];
            Array.Copy(regions, updated, index);
            updated[index] = region;
            Array.Copy(regions, index, updated, index + 1, regions.Length - index);
            _regions = updated;
            return 0;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Removes the window that exactly matches; false if there is none. Waits for in-flight accesses, then unmaps.</summary>
    public bool Remove(ulong address, ulong length)
    {
        DmaRegion? removed = null;
        _lock.EnterWriteLock();
        try
        {
            var regions = _regions;
            int index = Array.FindIndex(regions, r => r.Address == address && r.Length == length);
            if (index < 0) return false;
            removed = regions[index];
            var updated = new DmaRegion[regions.Length - 1];
            Array.Copy(regions, updated, index);
            Array.Copy(regions, index + 1, updated, index, regions.Length - index - 1);
            _regions = updated;
            removed.Mapping?.Dispose();
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Removes and unmaps every window (VFIO_DMA_UNMAP_FLAG_ALL, or the client went away).</summary>
    public void RemoveAll()
    {
        _lock.EnterWriteLock();
        try
        {
            foreach (var region in _regions) region.Mapping?.Dispose();
            _regions = [];
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <inheritdoc/>
    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        if (destination.IsEmpty) return true;
        if (!address.TryAdd((ulong)destination.Length, out _)) return false;
        ulong current = address.Value;
        int done = 0;
        while (done < destination.Length)
        {
            int chunk;
            bool viaMessages;
            _lock.EnterReadLock();
            try
            {
                var region = Find(current);
                if (region is null || !region.Readable) return false;
                chunk = (int)Math.Min((ulong)(destination.Length - done), region.End - current);
                viaMessages = region.Mapping is null;
                if (!viaMessages)
                    new ReadOnlySpan<byte>(region.Mapping!.Start + (current - region.Address), chunk).CopyTo(destination.Slice(done, chunk));
            }
            finally
            {
                _lock.ExitReadLock();
            }
            if (viaMessages && !_messenger.TryRead(current, destination.Slice(done, chunk))) return false;
            done += chunk;
            current += (ulong)chunk;
        }
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The whole range is checked before any byte is written, so a refused write changes
    /// nothing; only a DMA_UNMAP racing with the write, or a failing DMA_WRITE message, can
    /// leave part of it written.
    /// </remarks>
    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return true;
        if (!address.TryAdd((ulong)source.Length, out _)) return false;
        if (!IsWritable(address.Value, (ulong)source.Length)) return false;
        ulong current = address.Value;
        int done = 0;
        while (done < source.Length)
        {
            int chunk;
            bool viaMessages;
            _lock.EnterReadLock();
            try
            {
                var region = Find(current);
                if (region is null || !region.Writable) return false;
                chunk = (int)Math.Min((ulong)(source.Length - done), region.End - current);
                viaMessages = region.Mapping is null;
                if (!viaMessages)
                {
                    if (!region.Mapping!.Writable) return false;
                    source.Slice(done, chunk).CopyTo(new Span<byte>(region.Mapping.Start + (current - region.Address), chunk));
                }
            }
            finally
            {
                _lock.ExitReadLock();
            }
            if (viaMessages && !_messenger.TryWrite(current, source.Slice(done, chunk))) return false;
            done += chunk;
            current += (ulong)chunk;
        }
        return true;
    }

    /// <summary>Unmaps everything; later accesses fail.</summary>
    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            _disposed = true;
            foreach (var region in _regions) region.Mapping?.Dispose();
            _regions = [];
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private bool IsWritable(ulong address, ulong length)
    {
        _lock.EnterReadLock();
        try
        {
            ulong current = address, end = address + length;
            while (current < end)
            {
                var region = Find(current);
                if (region is null || !region.Writable || (region.Mapping is { Writable: false })) return false;
                current = region.End;
            }
            return true;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>The window containing <paramref name="address"/>; binary search over the sorted, disjoint windows.</summary>
    private DmaRegion? Find(ulong address)
    {
        var regions = _regions;
        int low = 0, high = regions.Length - 1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            var region = regions[middle];
            if (address < region.Address) high = middle - 1;
            else if (address >= region.End) low = middle + 1;
            else return region;
        }
        return null;
    }
}
