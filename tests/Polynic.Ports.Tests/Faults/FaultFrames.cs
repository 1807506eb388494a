using System.Buffers.Binary;
using Polynic.Core.Nic;
using Polynic.Ports.Tests.Support;

namespace Polynic.Ports.Tests.Faults;

/// <summary>Numbered frames and a receiver that counts them without keeping copies.</summary>
internal static class FaultFrames
{
    public static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x0A];
    public static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0x0B];

    /// <summary>A frame carrying <paramref name="sequence"/> as the first 4 payload bytes, the rest a pattern.</summary>
    public static byte[] Numbered(int sequence, int length = 64)
    {
        var payload = new byte[length - 14];
        for (int i = 0; i < payload.Length; i++) payload[i] = (byte)(i * 7 + sequence);
        BinaryPrimitives.WriteInt32BigEndian(payload, sequence);
        return Frames.Ethernet(MacB, MacA, 0x88B5, payload);
    }

    public static int SequenceOf(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadInt32BigEndian(frame[14..]);
}

/// <summary>Keeps only the sequence numbers of the frames it receives; allocation-free after its list has grown.</summary>
internal sealed class SequenceRecorder(int capacity = 16_384) : IPortReceiver
{
    private readonly object _gate = new();
    private readonly List<int> _sequences = new(capacity);

    public int[] Sequences { get { lock (_gate) return [.. _sequences]; } }

    public int Count { get { lock (_gate) return _sequences.Count; } }

    public void Receive(ReadOnlySpan<byte> frame)
    {
        lock (_gate) _sequences.Add(FaultFrames.SequenceOf(frame));
    }

    public void LinkChanged(bool up)
    {
    }

    public bool WaitForCount(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Count < count)
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(5);
        }
        return true;
    }
}
