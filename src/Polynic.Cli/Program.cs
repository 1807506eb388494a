using System.CommandLine;
using Polynic.Cli.Commands;

var root = new RootCommand("Polynic: one generic virtual NIC with many personalities, served to VMMs over vfio-user.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(GuestCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ModulesCommand.Create());
root.Subcommands.Add(ModulesCommand.CreateNics());
root.Subcommands.Add(FuzzCommand.Create());
// Ctrl-C and SIGTERM cancel the command's token; the command then stops what it started (guests,
// servers, taps), which takes longer than the library's default 2 s grace before it ends the process.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });
