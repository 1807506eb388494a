using System.Globalization;
using System.Runtime.InteropServices;
using Polynic.Soak;

// Soak: four guests on one Polynic switch copying sha256-checked files for DURATION while links
// flap, faults come and go, NICs are added and removed over the control socket, and a hostile
// vfio-user client attacks a NIC of the same `polynic serve` process (issue 12).
// Usage: dotnet run -c Release --project benchmarks/Polynic.Soak -- [minutes=30] [guests=4] [report.md]
//        dotnet run -c Release --project benchmarks/Polynic.Soak -- attack SOCKET ROUNDS
// Exit status: 0 all transfers intact and the server lived; 1 otherwise; 2 bad arguments.
// `attack SOCKET ROUNDS`: only the hostile client, against any NIC's socket (to study one attack's cost alone).
if (args.Length == 3 && args[0] == "attack")
{
    using var cancel = new CancellationTokenSource();
    var attacker = new Polynic.Soak.Hostile.HostileClient(args[1], Console.WriteLine);
    var attacking = attacker.RunAsync(cancel.Token);
    int rounds = int.Parse(args[2], CultureInfo.InvariantCulture);
    while (attacker.Records.Count < rounds * Polynic.Soak.Hostile.Attacks.All.Count && !attacking.IsCompleted) await Task.Delay(500);
    await cancel.CancelAsync();
    await attacking;
    return attacker.Records.All(r => r.Recovered) ? 0 : 1;
}

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
