using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Ports.Switching;

namespace Polynic.Ports.Tests.Switching;

/// <summary>Frames, addresses, a fake clock and receivers for the switch tests.</summary>
internal static class SwitchTestKit
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    /// <summary>A locally administered unicast address 02:00:00:00:xx:xx.</summary>
    public static byte[] Mac(int n) => [0x02, 0, 0, 0, (byte)(n >> 8), (byte)n];

    public static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    public static readonly byte[] Multicast = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x01];

    /// <summary>An untagged frame of <paramref name="length"/> bytes, payload bytes set to <paramref name="fill"/>.</summary>
    public static byte[] Frame(byte[] destination, byte[] source, int length = 64, byte fill = 0xA5)
    {
        var frame = new byte[length];
        destination.CopyTo(frame, 0);
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5); // IEEE 802 local experimental EtherType
        frame.AsSpan(14).Fill(fill);
        return frame;
    }

    /// <summary>The 802.1Q-tagged form of an untagged <paramref name="frame"/>.</summary>
    public static byte[] Tagged(byte[] frame, ushort vlan, byte priority = 0)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), (ushort)(priority << 13 | vlan));
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    /// <summary>Creates a port and starts it with a new recorder.</summary>
    public static (SwitchPort Port, FrameLog Log) Attach(this L2Switch bridge, string name, SwitchPortOptions? options = null)
    {
        var port = bridge.CreatePort(name, options);
        var log = new FrameLog();
        port.Start(log);
        return (port, log);
    }

    /// <summary>Waits until every port's egress queue is empty and its receiver has returned.</summary>
    public static void Drain(this L2Switch bridge)
    {
        var deadline = DateTime.UtcNow + Wait;
        foreach (var port in bridge.Ports)
            while (port.EgressQueueLength > 0 && DateTime.UtcNow < deadline) Thread.Sleep(1);
        Thread.Sleep(20); // the last frame taken from a queue may still be inside its receiver
    }
}

/// <summary>A receiver that keeps copies of frames and link changes.</summary>
internal sealed class FrameLog : IPortReceiver
{
    private readonly object _gate = new();
    private readonly List<byte[]> _frames = [];
    private readonly List<bool> _links = [];

    public void Receive(ReadOnlySpan<byte> frame)
    {
        lock (_gate) _frames.Add(frame.ToArray());
    }

    public void LinkChanged(bool up)
    {
        lock (_gate) _links.Add(up);
    }

    public byte[][] Frames { get { lock (_gate) return [.. _frames]; } }

    public bool[] Links { get { lock (_gate) return [.. _links]; } }

    public void Clear()
    {
        lock (_gate) _frames.Clear();
    }
}

/// <summary>A receiver that only counts, allocation-free, for load tests.</summary>
internal sealed class CountingReceiver : IPortReceiver
{
    private long _frames;

    public long Frames => Volatile.Read(ref _frames);

    public void Receive(ReadOnlySpan<byte> frame) => Interlocked.Increment(ref _frames);

    public void LinkChanged(bool up) { }
}

/// <summary>A clock that moves only when the test says so.</summary>
internal sealed class FakeClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => Volatile.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, (long)(by.TotalSeconds * TimestampFrequency));
}
