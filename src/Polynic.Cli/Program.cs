using System.CommandLine;
using Polynic.Cli.Commands;

var root = new RootCommand("Polynic: one generic virtual NIC with many personalities, served to VMMs over vfio-user.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(GuestCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ModulesCommand.Create());
root.Subcommands.Add(ModulesCommand.CreateNics());
root.Subcommands.Add(FuzzCommand.Create());
return await root.Parse(args).InvokeAsync();
