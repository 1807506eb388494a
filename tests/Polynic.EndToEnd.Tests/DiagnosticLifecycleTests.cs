using Polynic.Personalities.Diagnostic;
using Polynic.Rig;
using Polynic.Rig.Guests;
using static Polynic.Personalities.Diagnostic.DiagnosticRegisters;

namespace Polynic.EndToEnd.Tests;

/// <summary>Guest reboots, VMM restarts: the device comes back working every time.</summary>
[Collection(RealGuests.Name)]
public sealed class DiagnosticLifecycleTests(RigFixture rig)
{
    private GuestOptions Options(ServedDevice<DiagnosticDevice> server, string name) => new()
    {
        Name = name,
        VfioUserSockets = [server.SocketPath],
        ExtraKernelArguments = GuestDiagnostics.KernelArguments,
    };

    private static async Task AssertWorksAsync(Guest guest, uint seed)
    {
        var f = await GuestDiagnostics.FindAsync(guest);
        await guest.BindDriverAsync(f, "uio_pci_generic");
        await guest.SetCommandBitsAsync(f, 0x4);
        ulong registers = f.Bars[0].Start;
        Assert.Equal(DiagnosticDevice.Magic, await guest.ReadPhysical32Async(registers + Magic));
        int before = await GuestDiagnostics.InterruptCountAsync(guest, "uio_pci_generic");
        await guest.WritePhysical32Async(registers + InterruptRaise, 0);
        Assert.Equal(before + 1, await GuestDiagnostics.InterruptCountAsync(guest, "uio_pci_generic"));
        await guest.WritePhysical32Async(registers + InterruptAcknowledge, 1);
        await GuestDiagnostics.AssertPatternDmaAsync(guest, registers, seed, pages: 4);
    }

    [Fact]
    public async Task Device_is_reset_and_works_again_after_a_guest_reboot()
    {
        await using var server = await ServedDevice<DiagnosticDevice>.StartAsync(new DiagnosticDevice(), "diag0");
        await using var guest = await rig.Rig.StartGuestAsync(Options(server, "reboot"));
        await AssertWorksAsync(guest, seed: 1);
        var f = await GuestDiagnostics.FindAsync(guest);
        await guest.WritePhysical32Async(f.Bars[0].Start + Scratch, 0xFEED_F00D);

        await guest.RebootAsync();

        f = await GuestDiagnostics.FindAsync(guest);
        // QEMU resets the device on a system reset: registers are back at power-on values.
        Assert.Equal(0u, await guest.ReadPhysical32Async(f.Bars[0].Start + Scratch));
        await AssertWorksAsync(guest, seed: 2);
        Assert.Null(server.Function.FailureReason);
    }

    [Fact]
    public async Task A_second_vmm_connects_to_the_same_running_server_after_the_first_exits()
    {
        await using var server = await ServedDevice<DiagnosticDevice>.StartAsync(new DiagnosticDevice(), "diag0");
        await using (var first = await rig.Rig.StartGuestAsync(Options(server, "first")))
        {
            await AssertWorksAsync(first, seed: 3);
        }
        // The first QEMU is gone; the server must have noticed and be ready for the next one.
        for (int i = 0; i < 50 && server.Server.IsClientConnected; i++) await Task.Delay(100);
        Assert.False(server.Server.IsClientConnected);

        await using var second = await rig.Rig.StartGuestAsync(Options(server, "second"));
        await AssertWorksAsync(second, seed: 4);
        Assert.Equal(2, server.Server.ClientsServed);
    }
}
