using CsCheck;
using Polynic.Core.Nic.Registers;

namespace Polynic.Core.Tests.Nic;

public class RegisterFileTests
{
    // A slice of the 82540's map (82540 manual table 13-2) plus an RTL8139-style mixed dword.
    private const uint Ctrl = 0x0000, Status = 0x0008, Icr = 0x00C0, Ics = 0x00C8, Ims = 0x00D0, Mta = 0x5200, Ral = 0x5400, Rah = 0x5404;
    private const uint ImrIsr = 0x003C;

    private readonly List<RegisterWrite> _icsWrites = [];
    private int _statusReads;

    private RegisterFile E1000Like() => new RegisterFile(0x20000)
        .Declare(Ctrl, "CTRL", resetValue: 0x0000_0240)
        .Declare(Status, "STATUS", resetValue: 0x0000_0080, access: RegisterAccess.ReadOnly,
            onRead: (f, in r) => { _statusReads++; return r.Value | 0x2; })
        .Declare(Icr, "ICR", access: RegisterAccess.ReadToClear)
        .Declare(Ics, "ICS", access: RegisterAccess.WriteOnly, onWrite: (f, in w) => { _icsWrites.Add(w); f.SetBits(Icr, w.Written); })
        .Declare(Ims, "IMS", writeMask: 0x0001_F6DF)
        .DeclareArray(Mta, 128, "MTA")
        .DeclareArray(Ral, 16, "RAL", stride: 8)
        .DeclareArray(Rah, 16, "RAH", stride: 8, writeMask: 0x8003_FFFF)
        .Declare(new RegisterSpec(ImrIsr, "IMR/ISR") { WriteMask = 0x0000_FFFF, ClearOnWriteMask = 0xFFFF_0000 });

    [Fact]
    public void Declared_reset_values_are_read_back_and_unknown_offsets_read_zero_and_are_counted()
    {
        var f = E1000Like();
        Assert.Equal(0x0000_0240u, f.Read32(Ctrl));
        Assert.Equal(0u, f.Read32(0x0004));
        f.Write32(0x0004, 0xFFFF_FFFF);
        Assert.Equal(0u, f.Read32(0x0004));
        Assert.Equal(2, f.UnknownReads);
        Assert.Equal(1, f.UnknownWrites);
    }

    [Fact]
    public void Read_only_ignores_writes_and_the_hook_shapes_the_value()
    {
        var f = E1000Like();
        f.Write32(Status, 0xFFFF_FFFF);
        Assert.Equal(0x82u, f.Read32(Status));
        Assert.Equal(0x80u, f.Get(Status));
        Assert.Equal(1, _statusReads);
    }

    [Fact]
    public void Write_only_reads_zero_and_its_hook_sees_the_written_bits()
    {
        var f = E1000Like();
        f.Write32(Ics, 0x0000_0084);
        Assert.Equal(0u, f.Read32(Ics));
        Assert.Equal(0x84u, f.Get(Ics));
        var w = Assert.Single(_icsWrites);
        Assert.Equal(("ICS", 0x84u, uint.MaxValue), (w.Name, w.Written, w.ByteMask));
        // ICR is read-to-clear (82540 13.4.17): the first read returns the causes, the second 0.
        Assert.Equal(0x84u, f.Read32(Icr));
        Assert.Equal(0u, f.Read32(Icr));
    }

    [Fact]
    public void Read_to_clear_also_clears_on_write_one()
    {
        var f = E1000Like();
        f.Set(Icr, 0x0000_0083);
        f.Write32(Icr, 0x0000_0001);
        Assert.Equal(0x82u, f.Get(Icr));
    }

    [Fact]
    public void Partial_writes_merge_into_the_dword_and_partial_reads_return_the_addressed_bytes()
    {
        var f = E1000Like();
        f.Write32(Mta + 4, 0x1122_3344);
        f.Write(Mta + 4 + 2, [0xAB]);
        Assert.Equal(0x11AB_3344u, f.Get(Mta + 4));
        Span<byte> two = stackalloc byte[2];
        f.Read(Mta + 4 + 1, two);
        Assert.Equal(new byte[] { 0x33, 0xAB }, two.ToArray());
    }

    [Fact]
    public void Eight_byte_access_is_two_dwords_low_first()
    {
        var f = E1000Like();
        f.Write(Mta, [1, 0, 0, 0, 2, 0, 0, 0]);
        Assert.Equal((1u, 2u), (f.GetElement(Mta, 0), f.GetElement(Mta, 1)));
        // An unaligned 4-byte access straddles two dwords.
        Span<byte> d = stackalloc byte[4];
        f.Read(Mta + 2, d);
        Assert.Equal(new byte[] { 0, 0, 2, 0 }, d.ToArray());
    }

    [Fact]
    public void Arrays_with_stride_interleave_and_report_their_element()
    {
        int seenElement = -1;
        var f = new RegisterFile(0x6000)
            .DeclareArray(Ral, 16, "RAL", stride: 8, onWrite: (_, in w) => seenElement = w.Element)
            .DeclareArray(Rah, 16, "RAH", stride: 8, writeMask: 0x8003_FFFF);
        f.Write32(Ral + 3 * 8, 0x1200_5452);
        f.Write32(Rah + 3 * 8, 0xFFFF_5634);
        Assert.Equal(3, seenElement);
        Assert.Equal(0x8003_5634u, f.GetElement(Rah, 3));
        Assert.Equal("RAH[3]", f.NameAt(Rah + 3 * 8));
        Assert.Equal(0u, f.GetElement(Rah, 16));
        Assert.False(f.SetElement(Rah, -1, 1));
        Assert.True(f.GetArray(Ral).IsEmpty);
    }

    [Fact]
    public void Mixed_dword_keeps_mask_bits_and_clears_status_bits_by_byte()
    {
        var f = E1000Like();
        f.Set(ImrIsr, 0x0005_0000);
        f.Write(ImrIsr, [0xFF, 0x00]);          // 16-bit IMR write
        Assert.Equal(0x0005_00FFu, f.Get(ImrIsr));
        f.Write(ImrIsr + 2, [0x01, 0x00]);      // 16-bit ISR write-one-to-clear
        Assert.Equal(0x0004_00FFu, f.Get(ImrIsr));
    }

    [Fact]
    public void Reset_restores_declared_values()
    {
        var f = E1000Like();
        f.Write32(Ctrl, 0xDEAD_BEEF);
        f.GetArray(Mta)[5] = 7;
        f.Reset();
        Assert.Equal(0x240u, f.Get(Ctrl));
        Assert.Equal(0u, f.GetElement(Mta, 5));
    }

    [Fact]
    public void Hostile_offsets_and_lengths_never_throw()
    {
        var f = E1000Like();
        f.Read(ulong.MaxValue - 1, new byte[8]);
        f.Write(ulong.MaxValue - 2, new byte[8]);
        f.Write(0x1FFFE, new byte[64]);
        f.Read(0x1FFFD, new byte[3]);
        Assert.True(f.UnknownReads > 0 && f.UnknownWrites > 0);
        Assert.False(f.Set(0x4, 1));
        Assert.Equal(0u, f.Get(0xFFFF_FFFC));
    }

    [Fact]
    public void Declaration_errors_are_reported_at_setup()
    {
        var f = new RegisterFile(0x100).Declare(0x10, "A");
        Assert.Throws<ArgumentException>(() => f.Declare(0x10, "B"));
        Assert.Throws<ArgumentException>(() => f.Declare(0x12, "C"));
        Assert.Throws<ArgumentException>(() => f.DeclareArray(0xF0, 8, "D"));
        Assert.Throws<ArgumentException>(() => f.DeclareArray(0x00, 8, "E"));
    }

    [Fact]
    public void Access_path_does_not_allocate()
    {
        var f = E1000Like();
        var d = new byte[4];
        Allocations.AssertNone(() =>
        {
            for (uint i = 0; i < 1000; i++)
            {
                f.Write32(Mta + (i % 128) * 4, i);
                f.Read(Status, d);
                f.Write(Ctrl + 1, d.AsSpan(0, 2));
                f.Read32(Icr);
                f.Read32(0x7000);
            }
        });
    }

    [Fact]
    public void Property_write_mask_bits_take_the_written_value_and_others_keep_theirs() =>
        Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, Gen.Int[0, 3], Gen.Int[1, 4]).Sample((mask, initial, written, offset, width) =>
        {
            width = Math.Min(width, 4 - offset);
            var f = new RegisterFile(16).Declare(4, "R", writeMask: mask);
            f.Set(4, initial);
            Span<byte> data = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data, written);
            f.Write(4u + (uint)offset, data.Slice(offset, width));
            uint bytes = (width == 4 ? uint.MaxValue : (1u << (8 * width)) - 1) << (8 * offset);
            uint m = mask & bytes;
            Assert.Equal((initial & ~m) | (written & m), f.Get(4));
        });

    [Fact]
    public void Property_write_one_to_clear_only_clears() =>
        Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt).Sample((mask, initial, written) =>
        {
            var f = new RegisterFile(8).Declare(0, "S", access: RegisterAccess.WriteOneToClear, writeMask: mask);
            f.Set(0, initial);
            f.Write32(0, written);
            Assert.Equal(initial & ~(written & mask), f.Get(0));
            Assert.Equal(f.Get(0), f.Read32(0));
        });

    [Fact]
    public void Property_read_only_and_unknown_are_unchanged_by_any_write() =>
        Gen.Select(Gen.UInt, Gen.UInt, Gen.Int[0, 15], Gen.Int[1, 8]).Sample((initial, written, offset, width) =>
        {
            var f = new RegisterFile(16).Declare(8, "RO", resetValue: initial, access: RegisterAccess.ReadOnly);
            Span<byte> data = stackalloc byte[8];
            data.Fill((byte)written);
            f.Write((ulong)offset, data[..width]);
            Assert.Equal(initial, f.Get(8));
            Assert.Equal(initial, f.Read32(8));
        });
}
