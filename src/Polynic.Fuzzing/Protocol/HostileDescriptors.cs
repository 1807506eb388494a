using Polynic.Native;

namespace Polynic.Fuzzing.Protocol;

/// <summary>The kinds of descriptor the protocol fuzzer hands the server.</summary>
internal enum DescriptorKind
{
    /// <summary>A memfd sealed against shrinking, as QEMU's memory-backend-memfd passes guest RAM.</summary>
    SealedMemfd,
    /// <summary>A memfd without seals, which the fuzzer may truncate later.</summary>
    UnsealedMemfd,
    /// <summary>A non-blocking eventfd, as QEMU passes for interrupts.</summary>
    EventFd,
    /// <summary>A blocking eventfd whose counter is one below its maximum: a write to it blocks.</summary>
    FullBlockingEventFd,
    /// <summary>The read end of a pipe.</summary>
    PipeReadEnd,
    /// <summary>The write end of a pipe nobody reads.</summary>
    PipeWriteEnd,
    /// <summary>/dev/null.</summary>
    DevNull,
    /// <summary>A directory.</summary>
    Directory,
}

/// <summary>
/// Makes descriptors of every <see cref="DescriptorKind"/> for one fuzzing session and closes
/// the fuzzer's copies when the session ends; memfds are kept so the session can shrink them
/// under the server afterwards (the shrunk-memfd attack).
/// </summary>
internal sealed unsafe class HostileDescriptors : IDisposable
{
    private const uint MfdCloexec = 1, MfdAllowSealing = 2;
    private const int FAddSeals = 1033, FSealShrink = 2, FSealGrow = 4, ODirectory = 0x10000;
    private readonly List<FileDescriptor> _open = [];
    private readonly List<FileDescriptor> _memfds = [];

    /// <summary>Pages each memfd the session creates holds.</summary>
    public const int MemfdPages = 64;

    /// <summary>A new descriptor of <paramref name="kind"/>; -1 if the system refused to make one.</summary>
    public int Create(DescriptorKind kind)
    {
        int fd = kind switch
        {
            DescriptorKind.SealedMemfd or DescriptorKind.UnsealedMemfd => (int)LibC.memfd_create("fuzz-ram", MfdCloexec | MfdAllowSealing),
            DescriptorKind.EventFd => LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK),
            DescriptorKind.FullBlockingEventFd => LibC.eventfd(0, LibC.EFD_CLOEXEC),
            DescriptorKind.DevNull => LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC),
            DescriptorKind.Directory => LibC.open("/", ODirectory | LibC.O_CLOEXEC),
            _ => -1,
        };
        if (kind is DescriptorKind.PipeReadEnd or DescriptorKind.PipeWriteEnd) fd = Pipe(kind == DescriptorKind.PipeReadEnd);
        if (fd < 0) return -1;
        var handle = new FileDescriptor(fd);
        _open.Add(handle);
        switch (kind)
        {
            case DescriptorKind.SealedMemfd:
                LibC.ftruncate(handle, MemfdPages * 4096L);
                LibC.fcntl(handle, FAddSeals, FSealShrink | FSealGrow);
                _memfds.Add(handle);
                break;
            case DescriptorKind.UnsealedMemfd:
                LibC.ftruncate(handle, MemfdPages * 4096L);
                _memfds.Add(handle);
                break;
            case DescriptorKind.FullBlockingEventFd:
                ulong almostFull = 0xFFFF_FFFF_FFFF_FFFE;
                LibC.write(fd, &almostFull, sizeof(ulong));
                break;
        }
        return fd;
    }

    /// <summary>Shrinks every memfd of the session to nothing (sealed ones refuse).</summary>
    public void ShrinkMemfds()
    {
        foreach (var memfd in _memfds) LibC.ftruncate(memfd, 0);
    }

    /// <summary>Closes the fuzzer's copies; the server keeps its own.</summary>
    public void Dispose()
    {
        foreach (var fd in _open) fd.Dispose();
        _open.Clear();
        _memfds.Clear();
    }

    private int Pipe(bool readEnd)
    {
        int* ends = stackalloc int[2];
        if (LibC.pipe2(ends, LibC.O_CLOEXEC) != 0) return -1;
        // The other end stays open with the session, so the pipe neither reads EOF nor raises SIGPIPE.
        _open.Add(new FileDescriptor(readEnd ? ends[1] : ends[0]));
        return readEnd ? ends[0] : ends[1];
    }
}
