using System.CommandLine;
using Polynic.Rig;

namespace Polynic.Cli.Commands;

/// <summary><c>polynic guest ...</c>: the guest rig used by the demo and the end-to-end tests.</summary>
internal static class GuestCommand
{
    public static Command Create()
    {
        var prepare = new Command("prepare",
            "Build (or reuse) the cached guest image: a Debian trixie root with QEMU from trixie-backports, a Debian kernel and the test initramfs.");
        prepare.SetAction((_, cancellationToken) => GuestPrepareCommand.RunAsync(Console.Out, Console.Error, null, cancellationToken));
        var guest = new Command("guest", "Manage the guest rig (real Linux guests under QEMU/TCG).");
        guest.Subcommands.Add(prepare);
        return guest;
    }
}
