using Polynic.Personalities.Diagnostic;
using Polynic.Rig;
using Polynic.Rig.Guests;
using static Polynic.Personalities.Diagnostic.DiagnosticRegisters;

namespace Polynic.EndToEnd.Tests;

/// <summary>
/// The foundation proven with a real Linux guest under QEMU over vfio-user: enumeration,
/// MMIO, INTx through uio_pci_generic, DMA both ways, MSI-X.
/// </summary>
[Collection(RealGuests.Name)]
public sealed class DiagnosticFunctionTests(RigFixture rig)
{
    private async Task<(ServedDevice<DiagnosticDevice> server, Guest guest)> BootAsync()
    {
        var server = await ServedDevice<DiagnosticDevice>.StartAsync(new DiagnosticDevice(), "diag0");
        try
        {
            var guest = await rig.Rig.StartGuestAsync(new GuestOptions
            {
                Name = "diag",
                VfioUserSockets = [server.SocketPath],
                ExtraKernelArguments = GuestDiagnostics.KernelArguments,
            });
            return (server, guest);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Guest_enumerates_the_documented_identity_and_uses_mmio_intx_and_dma()
    {
        var (server, guest) = await BootAsync();
        await using var _ = server;
        await using var __ = guest;

        var f = await GuestDiagnostics.FindAsync(guest);
        Assert.Equal(DiagnosticDevice.Identity.ClassCode, f.ClassCode);
        Assert.Equal(DiagnosticDevice.Identity.Revision, f.Revision);
        Assert.Equal("0x1234 0x0001", (await guest.RunCheckedAsync(
            $"echo $(cat {f.SysfsPath}/subsystem_vendor) $(cat {f.SysfsPath}/subsystem_device)", TimeSpan.FromSeconds(10))).Trim());
        Assert.Equal(4096UL, f.Bars[0].Size);
        Assert.Equal(4096UL, f.Bars[1].Size);
        Assert.Equal(64UL, f.Bars[2].Size);
        var capabilities = await guest.RunCheckedAsync($"lspci -vv -s {f.Address}", TimeSpan.FromSeconds(10));
        Assert.Contains("Power Management", capabilities);
        Assert.Contains("MSI: Enable-", capabilities);
        Assert.Contains("MSI-X: Enable- Count=4", capabilities);

        await guest.BindDriverAsync(f, "uio_pci_generic");
        await guest.SetCommandBitsAsync(f, 0x4);
        ulong registers = f.Bars[0].Start;
        Assert.Equal(DiagnosticDevice.Magic, await guest.ReadPhysical32Async(registers + Magic));
        await guest.WritePhysical32Async(registers + Scratch, 0xA5A5_1234);
        Assert.Equal(0xA5A5_1234u, await guest.ReadPhysical32Async(registers + Scratch));

        // INTx: uio_pci_generic's handler sees Interrupt Status, masks with Interrupt Disable
        // and counts. Clearing Interrupt Disable unmasks; a second raise must arrive too, which
        // proves the vfio-user automask/unmask cycle.
        int before = await GuestDiagnostics.InterruptCountAsync(guest, "uio_pci_generic");
        await guest.WritePhysical32Async(registers + InterruptRaise, 0);
        Assert.Equal(before + 1, await GuestDiagnostics.InterruptCountAsync(guest, "uio_pci_generic"));
        await guest.WritePhysical32Async(registers + InterruptAcknowledge, 1);
        // uio_pci_generic has no irqcontrol: user space unmasks by clearing Interrupt Disable.
        await guest.RunCheckedAsync($"setpci -s {f.Address} COMMAND=0x0000:0x0400", TimeSpan.FromSeconds(10));
        await guest.WritePhysical32Async(registers + InterruptRaise, 0);
        Assert.Equal(before + 2, await GuestDiagnostics.InterruptCountAsync(guest, "uio_pci_generic"));
        Assert.Equal(2u, await guest.ReadPhysical32Async(registers + InterruptCount));

        // DMA device -> guest: a pattern written by Polynic is read back by the guest.
        await GuestDiagnostics.AssertPatternDmaAsync(guest, registers, seed: 0x5EED_0001, pages: 16);

        // DMA guest -> device: the guest fills the buffer with random bytes, Polynic checksums it.
        await guest.FillPhysicalRandomAsync(GuestDiagnostics.DmaBuffer, 4);
        var filled = await guest.ReadPhysicalPagesAsync(GuestDiagnostics.DmaBuffer, 4);
        Assert.NotEqual(DiagnosticPattern.Create(0x5EED_0001, 4 * 4096), filled);
        await guest.WritePhysical32Async(registers + DmaLength, 4 * 4096);
        await guest.WritePhysical32Async(registers + DmaCommand, DmaCommandChecksum);
        uint expected = 2166136261;
        foreach (byte b in filled) expected = (expected ^ b) * 16777619;
        Assert.Equal(expected, await guest.ReadPhysical32Async(registers + DmaChecksum));

        // A DMA outside guest RAM is refused by Polynic, counted, and the device keeps working.
        await guest.WritePhysical32Async(registers + DmaAddressHigh, 0x10);
        await guest.WritePhysical32Async(registers + DmaCommand, DmaCommandWritePattern);
        Assert.Equal(DmaStatusDone | DmaStatusError, await guest.ReadPhysical32Async(registers + DmaStatus));
        Assert.Equal(1u, await guest.ReadPhysical32Async(registers + DmaErrorCount));
        Assert.Null(server.Function.FailureReason);
    }

    [Fact]
    public async Task Msix_vector_reaches_the_guest_cpu()
    {
        var (server, guest) = await BootAsync();
        await using var _ = server;
        await using var __ = guest;
        var f = await GuestDiagnostics.FindAsync(guest);
        await guest.SetCommandBitsAsync(f, 0x6);
        ulong registers = f.Bars[0].Start, table = f.Bars[1].Start;

        // Program MSI-X entry 1 as Linux would: fixed delivery to the local APIC of CPU 0,
        // on an IDT vector no Linux driver owns (0xde), then enable MSI-X in the capability.
        // QEMU emulates the table and hands Polynic one eventfd per unmasked vector; when
        // the message lands, the guest kernel reports the vector it had no handler for.
        const int vector = 0xde;
        await guest.WritePhysical32Async(table + 16 + 0, 0xFEE0_0000);
        await guest.WritePhysical32Async(table + 16 + 4, 0);
        await guest.WritePhysical32Async(table + 16 + 8, vector);
        await guest.WritePhysical32Async(table + 16 + 12, 0);
        var msix = await guest.RunCheckedAsync($"lspci -s {f.Address} -v | grep -o 'MSI-X.*'; setpci -s {f.Address} CAP_MSIX+2.w=0x8000:0xc000; lspci -vv -s {f.Address} | grep 'MSI-X'", TimeSpan.FromSeconds(10));
        Assert.Contains("MSI-X: Enable+", msix);

        await guest.RunCheckedAsync("dmesg -c > /dev/null", TimeSpan.FromSeconds(10));
        await guest.WritePhysical32Async(registers + InterruptRaise, 1);
        var dmesg = await guest.RunCheckedAsync("sleep 1; dmesg | grep 'No irq handler' || true", TimeSpan.FromSeconds(20));
        // arch/x86/kernel/irq.c reports "No irq handler for <cpu>.<vector>".
        Assert.Contains($"No irq handler for 0.{vector}", dmesg);
        Assert.Equal(0, server.Function.Interrupts.DroppedCount);
    }
}
