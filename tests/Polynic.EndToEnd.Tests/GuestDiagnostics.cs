using Polynic.Personalities.Diagnostic;
using Polynic.Rig;
using Polynic.Rig.Guests;
using static Polynic.Personalities.Diagnostic.DiagnosticRegisters;

namespace Polynic.EndToEnd.Tests;

/// <summary>Guest-side steps shared by the diagnostic-function tests.</summary>
internal static class GuestDiagnostics
{
    /// <summary>Guest RAM reserved with memmap= so /dev/mem may use it as a DMA buffer.</summary>
    public const ulong DmaBuffer = 0x1000_0000;

    public static readonly string KernelArguments = $"memmap=1M$0x{DmaBuffer:x}";

    public static async Task<GuestPciFunction> FindAsync(Guest guest)
    {
        var f = await guest.FindAsync(DiagnosticDevice.Identity.VendorId, DiagnosticDevice.Identity.DeviceId);
        Assert.True(f is not null, "the guest did not enumerate the diagnostic function\n" + guest.SerialText);
        return f;
    }

    public static async Task<int> InterruptCountAsync(Guest guest, string name)
    {
        var text = await guest.RunCheckedAsync($"grep -w {name} /proc/interrupts || true", TimeSpan.FromSeconds(20));
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).TakeWhile(t => t.All(char.IsDigit)).Sum(int.Parse);
    }

    /// <summary>Has the device write a pattern into the reserved buffer and reads it back through /dev/mem.</summary>
    public static async Task AssertPatternDmaAsync(Guest guest, ulong registers, uint seed, int pages)
    {
        await guest.WritePhysical32Async(registers + DmaAddressLow, (uint)DmaBuffer);
        await guest.WritePhysical32Async(registers + DmaAddressHigh, 0);
        await guest.WritePhysical32Async(registers + DmaLength, (uint)(pages * 4096));
        await guest.WritePhysical32Async(registers + DmaSeed, seed);
        await guest.WritePhysical32Async(registers + DmaCommand, DmaCommandWritePattern);
        Assert.Equal(DmaStatusDone, await guest.ReadPhysical32Async(registers + DmaStatus));
        var bytes = await guest.ReadPhysicalPagesAsync(DmaBuffer, pages);
        Assert.Equal(DiagnosticPattern.Create(seed, pages * 4096), bytes);
    }
}
