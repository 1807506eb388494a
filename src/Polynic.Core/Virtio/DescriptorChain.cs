using Polynic.Core.Memory;

namespace Polynic.Core.Virtio;

/// <summary>
/// A descriptor chain popped from a <see cref="SplitVirtqueue"/>: its head index (what goes back in
/// the used ring) and its buffers, readable ones first (virtio 1.2, 2.7.4.2). The segments live in
/// the queue's preallocated array and are valid until the next pop from the same queue.
/// </summary>
public readonly ref struct DescriptorChain
{
    internal DescriptorChain(ushort head, ReadOnlySpan<VirtqueueSegment> segments, int readable, long readableLength, long writableLength)
    {
        Head = head;
        Segments = segments;
        ReadableCount = readable;
        ReadableLength = readableLength;
        WritableLength = writableLength;
    }

    /// <summary>Index of the head descriptor.</summary>
    public ushort Head { get; }

    /// <summary>All buffers, device-readable first.</summary>
    public ReadOnlySpan<VirtqueueSegment> Segments { get; }

    /// <summary>Number of device-readable buffers at the start of <see cref="Segments"/>.</summary>
    public int ReadableCount { get; }

    /// <summary>Total bytes in device-readable buffers.</summary>
    public long ReadableLength { get; }

    /// <summary>Total bytes in device-writable buffers.</summary>
    public long WritableLength { get; }

    /// <summary>
    /// Copies the device-readable bytes, in order, into <paramref name="destination"/>. Returns how many
    /// were copied (at most <c>destination.Length</c>), or -1 if a buffer is not in guest RAM.
    /// </summary>
    public int Gather(IGuestMemory memory, Span<byte> destination)
    {
        int done = 0;
        foreach (var s in Segments[..ReadableCount])
        {
            int n = (int)Math.Min(s.Length, (uint)(destination.Length - done));
            if (n == 0) continue;
            if (!memory.TryRead(s.Address, destination.Slice(done, n))) return -1;
            done += n;
        }
        return done;
    }

    /// <summary>
    /// Writes <paramref name="source"/> into the device-writable buffers starting <paramref name="offset"/>
    /// bytes into them. Returns bytes written (less than the source if the buffers are shorter), or -1
    /// if a buffer is not in guest RAM.
    /// </summary>
    public int Scatter(IGuestMemory memory, long offset, ReadOnlySpan<byte> source)
    {
        int done = 0;
        long skip = offset;
        foreach (var s in Segments[ReadableCount..])
        {
            if (done == source.Length) break;
            if (skip >= s.Length) { skip -= s.Length; continue; }
            int n = (int)Math.Min(s.Length - skip, source.Length - done);
            if (!memory.TryWrite(new GuestAddress(s.Address.Value + (ulong)skip), source.Slice(done, n))) return -1;
            done += n;
            skip = 0;
        }
        return done;
    }
}
