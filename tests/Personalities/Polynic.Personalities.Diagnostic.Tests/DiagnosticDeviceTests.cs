using Polynic.Core.Interrupts;
using Polynic.TestMachine;
using static Polynic.Personalities.Diagnostic.DiagnosticRegisters;

namespace Polynic.Personalities.Diagnostic.Tests;

public class DiagnosticDeviceTests
{
    private readonly Machine _m = new(ramSize: 4 << 20);
    private readonly int _slot;
    private readonly ulong _regs;
    private readonly ulong _io;

    public DiagnosticDeviceTests()
    {
        _slot = _m.Plug(new DiagnosticDevice());
        var bars = _m.Enumerate(_slot);
        _regs = bars[0];
        _io = bars[2];
    }

    [Fact]
    public void Identity_and_magic_are_the_documented_ones()
    {
        Assert.Equal(0x7a01_1234u, _m.ConfigRead(_slot, 0));
        Assert.Equal(0xFF00_0001u, _m.ConfigRead(_slot, 8));
        Assert.Equal(DiagnosticDevice.Magic, _m.MmioRead(_regs + Magic));
        Assert.Equal(DiagnosticDevice.Magic, _m.IoRead(_io + Magic));
        Assert.Equal(0x50u, _m.MmioRead(_regs + Magic, width: 1));
    }

    [Fact]
    public void Pattern_dma_lands_in_guest_ram()
    {
        _m.MmioWrite(_regs + DmaAddressLow, 0x10_0000);
        _m.MmioWrite(_regs + DmaLength, 10_001);
        _m.MmioWrite(_regs + DmaSeed, 0xC0FFEE);
        _m.MmioWrite(_regs + DmaCommand, DmaCommandWritePattern);
        Assert.Equal(DmaStatusDone, _m.MmioRead(_regs + DmaStatus));
        Assert.Equal(DiagnosticPattern.Create(0xC0FFEE, 10_001), _m.Ram.Span(0x10_0000, 10_001).ToArray());
        Assert.Equal(0, _m.Ram.Span(0x10_0000 + 10_001, 1)[0]);
    }

    [Fact]
    public void Checksum_dma_reads_guest_ram()
    {
        var data = _m.Ram.Span(0x2000, 3);
        data[0] = 1; data[1] = 2; data[2] = 3;
        _m.MmioWrite(_regs + DmaAddressLow, 0x2000);
        _m.MmioWrite(_regs + DmaLength, 3);
        _m.MmioWrite(_regs + DmaCommand, DmaCommandChecksum);
        uint expected = 2166136261;
        foreach (byte b in new byte[] { 1, 2, 3 }) expected = (expected ^ b) * 16777619;
        Assert.Equal(expected, _m.MmioRead(_regs + DmaChecksum));
    }

    [Theory]
    [InlineData(0x3F_F000u, 0u, 0x2000u)]          // runs off the end of RAM
    [InlineData(0xFFFF_F000u, 0xFFFF_FFFFu, 0x2000u)] // wraps the 64-bit address space
    [InlineData(0x1000u, 0u, 0u)]                   // empty
    [InlineData(0x1000u, 0u, 0x0100_0001u)]         // beyond the per-command bound
    public void Hostile_dma_is_refused_and_counted(uint low, uint high, uint length)
    {
        _m.MmioWrite(_regs + DmaAddressLow, low);
        _m.MmioWrite(_regs + DmaAddressHigh, high);
        _m.MmioWrite(_regs + DmaLength, length);
        _m.MmioWrite(_regs + DmaCommand, DmaCommandWritePattern);
        Assert.Equal(DmaStatusDone | DmaStatusError, _m.MmioRead(_regs + DmaStatus));
        Assert.Equal(1u, _m.MmioRead(_regs + DmaErrorCount));
        Assert.Null(_m.Function(_slot).FailureReason);
    }

    [Fact]
    public void Raise_and_acknowledge_drive_intx()
    {
        _m.MmioWrite(_regs + InterruptRaise, 0);
        Assert.True(_m.Interrupts(_slot).IntxAsserted);
        Assert.Equal(1u, _m.MmioRead(_regs + InterruptStatus));
        _m.MmioWrite(_regs + InterruptAcknowledge, 1);
        Assert.False(_m.Interrupts(_slot).IntxAsserted);
        _m.MmioWrite(_regs + InterruptRaise, 99);
        Assert.Equal(1u, _m.MmioRead(_regs + InterruptCount));
    }

    [Fact]
    public void Raise_sends_msix_vector_when_enabled()
    {
        int cap = 0x40 + 8 + 24;
        Assert.Equal(0x11u, _m.ConfigRead(_slot, cap, 1));
        ulong table = _m.ConfigRead(_slot, 0x14) & ~0xFu;
        _m.MmioWrite(table + 2 * 16, 0xFEE0_0000);
        _m.MmioWrite(table + 2 * 16 + 8, 0x31);
        _m.MmioWrite(table + 2 * 16 + 12, 0);
        _m.ConfigWrite(_slot, cap + 2, 0x8000, width: 2);
        _m.MmioWrite(_regs + InterruptRaise, 2);
        var e = Assert.Single(_m.Interrupts(_slot).Events);
        Assert.Equal(new InterruptEvent(InterruptMode.Msix, 2, true, new MsiMessage(0xFEE0_0000, 0x31)), e);
    }
}
