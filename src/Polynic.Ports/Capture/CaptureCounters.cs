namespace Polynic.Ports.Capture;

/// <summary>
/// What a <see cref="CapturePort"/> recorded, as plain monotonically increasing numbers read
/// without locks (like <see cref="PortCounters"/>). A frame left out of the capture still passes
/// through the port.
/// </summary>
public sealed class CaptureCounters
{
    private long _framesQueued;
    private long _framesDropped;

    /// <summary>Frames handed to the writer's queue, both directions; the writer thread puts them in the file.</summary>
    public long FramesQueued => Volatile.Read(ref _framesQueued);

    /// <summary>
    /// Frames left out of the capture, both directions: the writer's queue was full (the storage
    /// is slower than the traffic), or the writer had failed or was disposed.
    /// </summary>
    public long FramesDropped => Volatile.Read(ref _framesDropped);

    internal void Count(bool queued)
    {
        if (queued) Interlocked.Increment(ref _framesQueued);
        else Interlocked.Increment(ref _framesDropped);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{FramesQueued} frames queued, {FramesDropped} left out";
}
