using System.Globalization;
using System.Runtime.InteropServices;
using Polynic.Soak;

// Soak: four guests on one Polynic switch copying sha256-checked files for DURATION while links
// flap, faults come and go, NICs are added and removed over the control socket, and a hostile
// vfio-user client attacks a NIC of the same `polynic serve` process (issue 12).
// Usage: dotnet run -c Release --project benchmarks/Polynic.Soak -- [minutes=30] [guests=4] [report.md]
// Exit status: 0 all transfers intact and the server lived; 1 otherwise; 2 bad arguments.
double minutes = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 30;
int guests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
string? report = args.Length > 2 && args[2] != "-" ? Path.GetFullPath(args[2]) : null;
if (minutes <= 0 || guests is < 2 or > 16)
{
    Console.Error.WriteLine("usage: Polynic.Soak [minutes > 0] [guests 2..16] [report.md]");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Console.Error.WriteLine("soak: stopping (Ctrl-C); cleaning up");
    stop.Cancel();
};
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    Console.Error.WriteLine("soak: stopping (SIGTERM); cleaning up");
    stop.Cancel();
});
var settings = new SoakSettings(TimeSpan.FromMinutes(minutes), guests, report);
return await new SoakRun(settings).RunAsync(stop.Token);
