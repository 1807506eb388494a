using System.Buffers.Binary;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The guest CPU scribbling on RAM between register accesses: random bytes, 16-byte records shaped
/// like descriptors (every NIC here has 16-byte descriptors: e1000 legacy and context, RTL8139 C+,
/// virtio split) whose address fields aim at rings, the end of RAM and beyond, and whose length and
/// flag fields sit at their limits, and small ring indices (virtio avail/used idx, head/tail copies).
/// </summary>
internal sealed class GuestMemoryWriter(FuzzedDevice d, AdversarialValues values)
{
    public void Write()
    {
        var r = values.Random;
        switch (r.Below(10))
        {
            case < 3: RandomBytes(); break;
            case < 8: Records(); break;
            case 8: RingIndex(); break;
            default: d.Ram(values.Target(256), 256).Clear(); break;
        }
    }

    private void RandomBytes()
    {
        var r = values.Random;
        int length = r.OneIn(8) ? r.Between(1, 4096) : r.Between(1, 256);
        length = Math.Min(length, d.RamSize);
        r.Fill(d.Ram(values.Target(length), length));
    }

    private void Records()
    {
        var r = values.Random;
        int count = r.Pick<int>([1, 2, 4, 8, SanityLayout.Entries, r.Between(1, 64)]);
        var span = d.Ram(values.Target(count * 16), count * 16);
        for (int i = 0; i < count; i++)
        {
            var record = span.Slice(i * 16, 16);
            int pointerAt = r.Coin() ? 0 : 8;
            BinaryPrimitives.WriteUInt64LittleEndian(record[pointerAt..], values.Pointer());
            int otherAt = 8 - pointerAt;
            BinaryPrimitives.WriteUInt32LittleEndian(record[otherAt..], Lane());
            BinaryPrimitives.WriteUInt32LittleEndian(record[(otherAt + 4)..], Lane());
        }
    }

    /// <summary>A length with flags beside it, or anything: what sits next to a descriptor's address.</summary>
    private uint Lane()
    {
        var r = values.Random;
        return r.Below(5) switch
        {
            0 => r.NextUInt32(),
            1 => (uint)values.Length(),
            2 => (uint)(values.Length() & 0xFFFF) | r.NextUInt32() << 16,
            // Two small halves: flags beside a ring index (virtio's flags and next), a count beside a command.
            3 => (uint)r.Below(SanityLayout.Entries * 2) << 16 | (uint)r.Below(8),
            _ => r.Coin() ? 0 : uint.MaxValue,
        };
    }

    private void RingIndex()
    {
        var r = values.Random;
        ulong at = values.Target(8) & ~1UL;
        ushort index = (ushort)(r.OneIn(4) ? r.NextUInt32() : (uint)r.Below(SanityLayout.Entries * 4));
        BinaryPrimitives.WriteUInt16LittleEndian(d.Ram(at + (ulong)r.Pick<int>([0, 2, 4]), 2), index);
    }
}
