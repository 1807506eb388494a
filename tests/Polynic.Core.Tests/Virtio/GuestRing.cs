using System.Buffers.Binary;
using Polynic.TestMachine;

namespace Polynic.Core.Tests.Virtio;

/// <summary>The driver side of a split virtqueue in test RAM, written the way Linux virtio_ring does it.</summary>
public sealed class GuestRing(GuestRam ram, ulong descriptors, ulong avail, ulong used, ushort size)
{
    public const ushort Next = 1, Write = 2, Indirect = 4;

    private ushort _nextDescriptor;
    private ushort _availIdx;
    private ushort _lastUsed;

    public ulong Descriptors => descriptors;
    public ulong Avail => avail;
    public ulong Used => used;
    public ushort Size => size;

    public void Clear()
    {
        ram.Span(descriptors, 16 * size).Clear();
        ram.Span(avail, 6 + 2 * size).Clear();
        ram.Span(used, 6 + 8 * size).Clear();
    }

    /// <summary>Writes descriptor <paramref name="index"/> verbatim (for hostile chains).</summary>
    public void SetDescriptor(ushort index, ulong address, uint length, ushort flags, ushort next)
    {
        var d = ram.Span(descriptors + 16UL * index, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    /// <summary>Adds a chain of buffers and publishes its head; returns the head.</summary>
    public ushort Add(params (ulong Address, uint Length, bool Writable)[] buffers)
    {
        ushort head = _nextDescriptor;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((_nextDescriptor + i) % size);
            ushort flags = (ushort)((buffers[i].Writable ? Write : 0) | (i + 1 < buffers.Length ? Next : 0));
            SetDescriptor(index, buffers[i].Address, buffers[i].Length, flags, (ushort)((index + 1) % size));
        }
        _nextDescriptor = (ushort)((_nextDescriptor + buffers.Length) % size);
        Publish(head);
        return head;
    }

    /// <summary>Puts <paramref name="head"/> in the avail ring and bumps avail->idx.</summary>
    public void Publish(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail + 4 + 2UL * (ulong)(_availIdx % size), 2), head);
        _availIdx++;
        BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail + 2, 2), _availIdx);
    }

    /// <summary>Replaces the head in the last published avail slot (hostile: a head the table does not have).</summary>
    public void ReplaceLastHead(ushort head) =>
        BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail + 4 + 2UL * (ulong)((ushort)(_availIdx - 1) % size), 2), head);

    /// <summary>Sets avail->idx to anything (hostile).</summary>
    public void SetAvailIndex(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail + 2, 2), value);

    public void SetAvailFlags(ushort flags) => BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail, 2), flags);

    /// <summary>used_event (EVENT_IDX): interrupt me when the used index passes this.</summary>
    public void SetUsedEvent(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(ram.Span(avail + 4 + 2UL * size, 2), value);

    /// <summary>avail_event as the device wrote it.</summary>
    public ushort AvailEvent => BinaryPrimitives.ReadUInt16LittleEndian(ram.Span(used + 4 + 8UL * size, 2));

    public ushort UsedIndex => BinaryPrimitives.ReadUInt16LittleEndian(ram.Span(used + 2, 2));

    /// <summary>Used elements not yet taken.</summary>
    public List<(uint Id, uint Length)> TakeUsed()
    {
        var list = new List<(uint, uint)>();
        ushort idx = UsedIndex;
        for (int guard = 0; _lastUsed != idx && guard < 65536; guard++, _lastUsed++)
        {
            var e = ram.Span(used + 4 + 8UL * (ulong)(_lastUsed % size), 8);
            list.Add((BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..])));
        }
        return list;
    }
}
