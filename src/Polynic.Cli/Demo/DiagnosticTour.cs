using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polynic.Cli.Serving;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Rig;
using Polynic.Rig.Guests;
using static Polynic.Cli.Demo.DiagnosticSpec;

namespace Polynic.Cli.Demo;

/// <summary>What the demo showed; every line is one check that passed or failed.</summary>
internal sealed record TourReport(IReadOnlyList<(string Check, bool Passed, string Detail)> Checks)
{
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>
/// The demo: one Polynic process serving the diagnostic function, one Linux guest under
/// QEMU/TCG using it through stock kernel interfaces only (sysfs, uio_pci_generic, /dev/mem).
/// </summary>
internal static class DiagnosticTour
{
    // Guest RAM the kernel is told not to use (memmap=), so /dev/mem may read and write it
    // and it can serve as the DMA buffer a user-space driver would otherwise pin.
    private const ulong DmaBuffer = 0x1000_0000;

    public static async Task<TourReport> RunAsync(TextWriter output, ILoggerFactory loggerFactory, bool keepLogs, CancellationToken cancellationToken)
    {
        var checks = new List<(string, bool, string)>();
        void Check(string name, bool passed, string detail)
        {
            checks.Add((name, passed, detail));
            output.WriteLine($"  [{(passed ? "PASS" : "FAIL")}] {name}: {detail}");
        }

        output.WriteLine("1/4 Preparing the guest rig (cached after the first run)...");
        var rig = new GuestRig();
        await rig.EnsurePreparedAsync(new LineProgress(output), cancellationToken);

        var socketDirectory = Directory.CreateTempSubdirectory("polynic-demo-");
        try
        {
            var socket = Path.Combine(socketDirectory.FullName, "diag0.sock");
            output.WriteLine($"2/4 Serving the Polynic diagnostic function on {socket}");
            await using var host = await ServerHost.StartAsync(DeviceSpec.ToConfiguration([$"diagnostic:{socket}"]), ModulesDirectory.LoadDefault(output), loggerFactory, cancellationToken);

            output.WriteLine("3/4 Booting a Linux guest under QEMU (TCG) with -device vfio-user-pci...");
            var boot = Stopwatch.StartNew();
            await using var guest = await rig.StartGuestAsync(new GuestOptions
            {
                Name = "demo",
                VfioUserSockets = [socket],
                ExtraKernelArguments = $"memmap=1M$0x{DmaBuffer:x}",
                KeepWorkDirectory = keepLogs,
            }, cancellationToken);
            output.WriteLine($"    guest ready after {boot.Elapsed.TotalSeconds:0.0} s; serial log: {guest.SerialLogPath}");

            output.WriteLine("4/4 Driving the device from the guest:");
            var function = await guest.FindAsync(VendorId, DeviceId, cancellationToken);
            Check("enumeration", function is not null && function.ClassCode == ClassCode,
                function is null ? "not found" : $"{function.Address} {function.VendorId:x4}:{function.DeviceId:x4} class {function.ClassCode:x6}");
            if (function is null) return new TourReport(checks);

            await guest.BindDriverAsync(function, "uio_pci_generic", cancellationToken);
            await guest.SetCommandBitsAsync(function, 0x4, cancellationToken);
            ulong registers = function.Bars[0].Start;
            uint magic = await guest.ReadPhysical32Async(registers + Magic, cancellationToken);
            Check("MMIO", magic == MagicValue, $"BAR0 at 0x{registers:x}, magic 0x{magic:x8}");

            int before = await UioInterruptCountAsync(guest, cancellationToken);
            await guest.WritePhysical32Async(registers + InterruptRaise, 0, cancellationToken);
            int after = await UioInterruptCountAsync(guest, cancellationToken);
            Check("INTx", after > before, $"uio_pci_generic interrupt count {before} -> {after}");
            await guest.WritePhysical32Async(registers + InterruptAcknowledge, 1, cancellationToken);

            const uint seed = 0x5EED_0001;
            await guest.WritePhysical32Async(registers + DmaAddressLow, (uint)DmaBuffer, cancellationToken);
            await guest.WritePhysical32Async(registers + DmaAddressHigh, 0, cancellationToken);
            await guest.WritePhysical32Async(registers + DmaLength, 8192, cancellationToken);
            await guest.WritePhysical32Async(registers + DmaSeed, seed, cancellationToken);
            await guest.WritePhysical32Async(registers + DmaCommand, DmaCommandWritePattern, cancellationToken);
            var bytes = await guest.ReadPhysicalPagesAsync(DmaBuffer, 2, cancellationToken);
            bool same = bytes.AsSpan().SequenceEqual(Pattern(seed, 8192));
            Check("DMA", same, same ? "8 KiB pattern written by Polynic read back intact by the guest" : "pattern differs");

            var server = host.Functions[0];
            Check("counters", server.Function.RefusedDmaCount == 0 && server.Function.Interrupts.DroppedCount == 0,
                $"refused DMA {server.Function.RefusedDmaCount}, dropped interrupts {server.Function.Interrupts.DroppedCount}");
        }
        finally
        {
            socketDirectory.Delete(recursive: true);
        }
        var report = new TourReport(checks);
        output.WriteLine(report.Passed ? "Demo passed." : "Demo FAILED.");
        return report;
    }

    private static async Task<int> UioInterruptCountAsync(Guest guest, CancellationToken cancellationToken)
    {
        var text = await guest.RunCheckedAsync("grep uio_pci_generic /proc/interrupts || true", TimeSpan.FromSeconds(20), cancellationToken);
        // A row is "IRQ: count-per-cpu ... chip ... name"; sum the per-CPU columns.
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).TakeWhile(t => t.All(char.IsDigit)).Sum(int.Parse);
    }
}
