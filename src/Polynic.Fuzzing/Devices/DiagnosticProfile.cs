using Polynic.Core.Modules;
using Polynic.Core.Nic.Registers;

namespace Polynic.Fuzzing.Devices;

/// <summary>
/// The diagnostic function (README, "The diagnostic function"): BAR 0 registers, mirrored by I/O BAR 2.
/// Its doorbell is the DMA command; the sanity check reads the magic and has it write a pattern into
/// guest RAM and checksum it back. It is not a NIC: no frames.
/// </summary>
internal sealed class DiagnosticProfile : DeviceProfile
{
    private const uint Magic = 0x00, Scratch = 0x08, InterruptRaise = 0x10, InterruptAcknowledge = 0x14;
    private const uint DmaAddressLow = 0x20, DmaAddressHigh = 0x24, DmaLength = 0x28, DmaSeed = 0x2C, DmaCommand = 0x30, DmaStatus = 0x34, DmaChecksum = 0x38;
    private const uint MagicValue = 0x594C_4F50;   // "POLY"

    public override IReadOnlyList<RegisterHint> Registers { get; } =
        Enumerable.Range(0, 16).SelectMany(i => new[] { new RegisterHint(0, (uint)i * 4, 4), new RegisterHint(2, (uint)i * 4, 4) }).ToArray();

    public override bool HasDoorbells => true;

    public override void Doorbell(FuzzedDevice d, AdversarialValues values)
    {
        var random = values.Random;
        if (random.OneIn(3))
        {
            d.Write(0, random.Coin() ? InterruptRaise : InterruptAcknowledge, (uint)random.Below(6), 4);
            return;
        }
        ulong address = values.Pointer();
        d.Write(0, DmaAddressLow, (uint)address, 4);
        d.Write(0, DmaAddressHigh, (uint)(address >> 32), 4);
        d.Write(0, DmaLength, random.Coin() ? (uint)random.Below(4097) : (uint)values.Length(), 4);
        d.Write(0, DmaCommand, (uint)random.Below(4), 4);
    }

    public override string? Check(FuzzedDevice d)
    {
        ulong magic = d.Read(0, Magic, 4);
        if (magic != MagicValue) return $"the magic register reads 0x{magic:x8}, not 'POLY'";
        const int length = 512;
        var buffer = d.Ram(SanityLayout.RxBuffers, length);
        buffer.Clear();
        d.Write(0, DmaAddressLow, SanityLayout.RxBuffers, 4);
        d.Write(0, DmaAddressHigh, 0, 4);
        d.Write(0, DmaLength, length, 4);
        d.Write(0, DmaSeed, 0x5EED, 4);
        d.Write(0, DmaCommand, 1, 4);
        if (d.Read(0, DmaStatus, 4) != 1) return $"the pattern DMA ended with status {d.Read(0, DmaStatus, 4)}";
        if (!buffer.ContainsAnyExcept((byte)0)) return "the pattern DMA left the buffer in guest RAM empty";
        uint expected = 2166136261;
        foreach (byte b in buffer) expected = (expected ^ b) * 16777619;
        d.Write(0, DmaCommand, 2, 4);
        ulong checksum = d.Read(0, DmaChecksum, 4);
        return checksum == expected ? null : $"the checksum DMA read 0x{checksum:x8}, but guest RAM holds 0x{expected:x8}";
    }
}

/// <summary>
/// A device declared by an XML descriptor alone (the <c>scratchpad</c>): its registers do exactly what
/// the descriptor says, so the sanity check is that, after a reset, every register that reads back its
/// value (readWrite, readOnly, writeOneToClear) holds its declared reset value, and a read/write
/// register keeps what is written to it. Not a NIC: no frames.
/// </summary>
internal sealed class DescriptorProfile(PersonalityDescriptor descriptor) : DeviceProfile
{
    public override IReadOnlyList<RegisterHint> Registers { get; } =
        descriptor.Registers.SelectMany(r => Enumerable.Range(0, r.Spec.Count).Select(i => new RegisterHint(r.Bar, r.Spec.Offset + (uint)i * r.Spec.Stride, 4))).ToArray();

    public override string? Check(FuzzedDevice d)
    {
        foreach (var r in descriptor.Registers)
        {
            if (r.Spec.Access is not (RegisterAccess.ReadWrite or RegisterAccess.ReadOnly or RegisterAccess.WriteOneToClear)) continue;
            for (int i = 0; i < r.Spec.Count; i++)
            {
                uint at = r.Spec.Offset + (uint)i * r.Spec.Stride;
                ulong value = d.Read(r.Bar, at, 4);
                if (value != r.Spec.ResetValue) return $"{r.Spec.Name} (BAR {r.Bar} 0x{at:x}) reads 0x{value:x8} after reset, not 0x{r.Spec.ResetValue:x8}";
            }
        }
        var writable = descriptor.Registers.FirstOrDefault(r => r.Spec.Access == RegisterAccess.ReadWrite && r.Spec.WriteMask != 0);
        if (writable is null) return null;
        uint pattern = 0x5A5A_A5A5 & writable.Spec.WriteMask | writable.Spec.ResetValue & ~writable.Spec.WriteMask;
        d.Write(writable.Bar, writable.Spec.Offset, pattern, 4);
        ulong back = d.Read(writable.Bar, writable.Spec.Offset, 4);
        return back == pattern ? null : $"{writable.Spec.Name} reads 0x{back:x8} after 0x{pattern:x8} was written";
    }
}
