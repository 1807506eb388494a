namespace Polynic.Ports.Tests.Capture;

/// <summary>Storage that stalls: every write waits until the test opens the gate, then lands in memory.</summary>
internal sealed class GatedStream : Stream
{
    private readonly ManualResetEventSlim _gate = new(false);
    private readonly MemoryStream _written = new();
    private int _waiting;

    /// <summary>Writes that arrived while the gate was closed (they waited for it).</summary>
    public int WritesHeld => Volatile.Read(ref _waiting);

    /// <summary>Everything written so far.</summary>
    public byte[] Written
    {
        get { lock (_written) return _written.ToArray(); }
    }

    /// <summary>Makes every later write fail as a full or broken disk would.</summary>
    public bool Broken { get; set; }

    /// <summary>Lets held and later writes through.</summary>
    public void Open() => _gate.Set();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (!_gate.IsSet) Interlocked.Increment(ref _waiting);
        _gate.Wait();
        if (Broken) throw new IOException("No space left on device");
        lock (_written) _written.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // Never leave a writer thread waiting on a test's gate.
        if (disposing) _gate.Set();
        base.Dispose(disposing);
    }
}
