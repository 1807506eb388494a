namespace Polynic.Ports.Capture;

/// <summary>A capture written into a stream the caller opened (a pipe, or a test's stream); it never rotates.</summary>
internal sealed class CaptureStream(Stream stream, bool leaveOpen) : CaptureDestination
{
    public override string Path => $"({stream.GetType().Name})";

    public override bool CanRotate => false;

    public override void Write(ReadOnlySpan<byte> data)
    {
        stream.Write(data);
        stream.Flush();
        Length += data.Length;
    }

    public override void Dispose()
    {
        if (!leaveOpen) stream.Dispose();
    }
}
