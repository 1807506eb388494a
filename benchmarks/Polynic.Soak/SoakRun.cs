using System.Diagnostics;
using Polynic.Rig;
using Polynic.Rig.Guests;
using Polynic.Rig.Network;
using Polynic.Soak.Hostile;

namespace Polynic.Soak;

/// <summary>
/// One soak from start to cleanup: build, server, guests, the loops (transfers, wire chaos, NIC
/// churn, hostile client), a sample every 30 s, the verdict. Whatever happens — the end of the
/// duration, Ctrl-C, SIGTERM, a failure — the guests, the server (its sockets and taps) and the
/// work directory are gone when it returns.
/// </summary>
internal sealed class SoakRun(SoakSettings settings)
{
    private readonly SoakCounters _counters = new();
    private readonly List<ProcessSample> _samples = [];
    private readonly List<TransferRecord> _problems = [];
    private readonly List<string> _fatal = [];
    private readonly Stopwatch _clock = new();
    private StreamWriter? _log;
    private string _environment = "";

    public async Task<int> RunAsync(CancellationToken stop)
    {
        string logBase = settings.ReportPath is { } r ? Path.ChangeExtension(r, null) : Path.Combine(Path.GetTempPath(), $"polynic-soak-{Environment.ProcessId}");
        _log = new StreamWriter(logBase + ".log") { AutoFlush = true };
        var work = Directory.CreateTempSubdirectory("polynic-soak-");
        var network = new SoakNetwork(work.FullName, settings.Guests);
        var guests = new List<Guest>();
        ServeProcess? server = null;
        HostileClient? hostile = null;
        using var loops = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var running = new List<Task>();
        try
        {
            Log("building ./polynic (CLI and modules) if sources changed");
            await ServeProcess.EnsureBuiltAsync();
            var rig = new GuestRig();
            var image = await rig.EnsurePreparedAsync(new Progress<string>(Log), stop);
            _environment = Describe(image);
            Log(_environment);

            network.Write();
            server = await ServeProcess.StartAsync(network.ConfigFile, network.ControlSocket, logBase + ".server.log", stop);
            Log($"polynic serve pid {server.Id}, control socket {network.ControlSocket}, log {logBase}.server.log");

            var booting = Enumerable.Range(0, settings.Guests).Select(i => rig.StartGuestAsync(new GuestOptions
            {
                Name = $"soak-g{i}",
                Cpus = 1,
                MemoryMiB = settings.GuestMemoryMiB,
                VfioUserSockets = [network.Socket(SoakNetwork.GuestNic(i))],
                BootTimeout = TimeSpan.FromMinutes(6),
            }, stop)).ToList();
            try
            {
                await Task.WhenAll(booting);
            }
            finally
            {
                foreach (var t in booting) if (t.IsCompletedSuccessfully) guests.Add(t.Result);
            }
            guests = [.. booting.Select(t => t.Result)]; // in NIC order: guest i has NIC g{i}
            for (int i = 0; i < guests.Count; i++)
            {
                await guests[i].RunCheckedAsync(
                    $"ip link set eth0 up && ip addr add {SoakNetwork.Address(i)}/24 dev eth0 && mkdir -p /tmp/www && httpd -p 8080 -h /tmp/www && " +
                    "for i in $(seq 1 300); do [ \"$(cat /sys/class/net/eth0/carrier)\" = 1 ] && exit 0; sleep 0.1; done; echo no carrier; exit 1",
                    TimeSpan.FromMinutes(2), stop);
            }
            Log($"{guests.Count} guests up; soak runs for {settings.Duration}");

            var control = new ControlChannel(network.ControlSocket, _counters, Log);
            hostile = new HostileClient(network.Socket(SoakNetwork.Hostile), Log);
            for (int i = 0; i < guests.Count; i++)
            {
                int to = (i + 1) % guests.Count;
                running.Add(Watch($"transfers g{i}->g{to}", new TransferLoop(guests[i], i, guests[to], to, _counters, RecordProblem).RunAsync(loops.Token), loops));
            }
            running.Add(Watch("wire chaos", new WireChaos(control, guests.Count, _counters, Log).RunAsync(loops.Token), loops));
            running.Add(Watch("NIC churn", new NicChurn(control, network, _counters, Log).RunAsync(loops.Token), loops));
            running.Add(Watch("hostile client", hostile.RunAsync(loops.Token), loops));

            _clock.Start();
            while (_clock.Elapsed < settings.Duration && !loops.IsCancellationRequested)
            {
                try { await Task.Delay(Min(settings.SampleInterval, settings.Duration - _clock.Elapsed), loops.Token); }
                catch (OperationCanceledException) { break; }
                if (server.HasExited)
                {
                    _fatal.Add($"polynic serve exited with status {server.ExitCode} at {_clock.Elapsed:hh\\:mm\\:ss}; see {logBase}.server.log");
                    break;
                }
                await SampleAsync(server, network, control, hostile, guests.Count);
            }
            // A stop by signal ends the loop above quietly; the run is then incomplete, not passed.
            if (stop.IsCancellationRequested) _fatal.Add($"stopped by signal after {_clock.Elapsed:hh\\:mm\\:ss} of load (asked {settings.Duration})");
            if (!server.HasExited && (_samples.Count == 0 || _clock.Elapsed - _samples[^1].Elapsed > TimeSpan.FromSeconds(5)))
                await SampleAsync(server, network, control, hostile, guests.Count);
            else if (server.HasExited && _fatal.Count == 0) _fatal.Add($"polynic serve exited with status {server.ExitCode}");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            _fatal.Add($"stopped by signal after {_clock.Elapsed:hh\\:mm\\:ss} of load");
        }
        catch (Exception e)
        {
            _fatal.Add($"{e.GetType().Name}: {e.Message}");
            Log("FAILED: " + e);
        }
        finally
        {
            await loops.CancelAsync();
            try { await Task.WhenAll(running).WaitAsync(TimeSpan.FromMinutes(2)); } catch (Exception) { /* each loop's failure was recorded by Watch */ }
            foreach (var g in guests) await g.DisposeAsync();
            if (server is not null)
            {
                bool wasAlive = !server.HasExited;
                int status = await server.StopAsync();
                if (wasAlive && status != 0) _fatal.Add($"polynic serve exited with status {status} on SIGTERM");
                if (server.ErrorLines > 0) Log($"the server logged {server.ErrorLines} warning/error lines; see {logBase}.server.log");
                await server.DisposeAsync();
            }
            await RemoveLeftoversAsync(work);
            WriteReport(hostile, finished: true);
        }
        return Verdict(hostile);
    }

    private async Task Watch(string name, Task loop, CancellationTokenSource loops)
    {
        try
        {
            await loop;
        }
        catch (Exception e) when (!loops.IsCancellationRequested)
        {
            lock (_fatal) _fatal.Add($"{name} stopped: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            Log($"FATAL in {name}: {e}");
            await loops.CancelAsync();
        }
        catch (Exception)
        {
            // Stopping: a guest command interrupted by the cancellation is no finding.
        }
    }

    private async Task SampleAsync(ServeProcess server, SoakNetwork network, ControlChannel control, HostileClient hostile, int guests)
    {
        var usage = ProcessUsage.Read(server.Id);
        var (id, took) = await HealthProbe.ProbeAsync(network.Socket(SoakNetwork.Probe), TimeSpan.FromSeconds(10));
        var nics = await control.ListAsync();
        int connected = Enumerable.Range(0, guests).Count(i => nics?.GetValueOrDefault(SoakNetwork.GuestNic(i)) is { State: "serving", Connected: true });
        var c = _counters;
        var sample = new ProcessSample(_clock.Elapsed, usage, SoakCounters.Read(ref c.TransfersOk), SoakCounters.Read(ref c.TransfersFailed),
            SoakCounters.Read(ref c.Mismatches), SoakCounters.Read(ref c.BytesOk), SoakCounters.Read(ref c.LinkFlaps),
            SoakCounters.Read(ref c.FaultEpisodes), hostile.Records.Count, SoakCounters.Read(ref c.NicsAdded), SoakCounters.Read(ref c.NicsRemoved),
            id is not null, took, connected, SoakCounters.Read(ref c.TransfersRetried));
        lock (_samples) _samples.Add(sample);
        Log($"sample {sample.Elapsed:hh\\:mm\\:ss}: RSS {usage?.RssKiB / 1024.0:0.0} MiB (own {usage?.RssAnonKiB / 1024.0:0.0}, guest RAM {usage?.RssShmemKiB / 1024.0:0.0}), {usage?.Threads} threads, {usage?.Fds} fds; transfers {sample.TransfersOk} ok / {sample.TransfersFailed} failed / {sample.Mismatches} mismatched; flaps {sample.LinkFlaps}, episodes {sample.FaultEpisodes}, attacks {sample.Attacks}, churn {sample.NicsAdded}/{sample.NicsRemoved}; probe {(id is null ? "NO ANSWER" : $"0x{id:x8} in {took.TotalMilliseconds:0} ms")}; guest NICs connected {connected}/{guests}");
        WriteReport(hostile, finished: false);
    }

    private void RecordProblem(TransferRecord problem)
    {
        lock (_problems) _problems.Add(problem);
        Log($"transfer g{problem.From}->g{problem.To}: {problem.Result}: {problem.Detail}");
        if (problem.Result == "MISMATCH") Console.Error.WriteLine($"soak: SHA-256 MISMATCH g{problem.From}->g{problem.To}: {problem.Detail}");
    }

    private async Task RemoveLeftoversAsync(DirectoryInfo work)
    {
        // The server deletes the taps it made when a NIC is removed or it stops; one left means it did not.
        foreach (var tap in Directory.Exists("/sys/class/net") ? Directory.GetFileSystemEntries("/sys/class/net", "pnsoak*") : [])
        {
            var name = Path.GetFileName(tap);
            _fatal.Add($"tap {name} was left behind by the server; deleted");
            await HostCommand.RunAsync("ip", ["link", "del", name], check: false);
        }
        try { work.Delete(recursive: true); }
        catch (IOException e) { Log($"could not delete {work.FullName}: {e.Message}"); }
    }

    private int Verdict(HostileClient? hostile)
    {
        var last = _samples.Count > 0 ? _samples[^1] : null;
        var failures = new List<string>(_fatal);
        if (last is null) failures.Add("no sample was taken");
        else
        {
            if (last.Mismatches > 0) failures.Add($"{last.Mismatches} transfers arrived corrupted (sha256 mismatch)");
            if (last.TransfersOk == 0) failures.Add("no transfer completed");
            if (_samples.Any(s => !s.ProbeAnswered)) failures.Add($"the idle NIC did not answer in {_samples.Count(s => !s.ProbeAnswered)} samples");
            if (!SoakReport.IsFlat(settings, _samples)) failures.Add("RSS, threads or fds grew after warm-up (see the report)");
        }
        if (hostile?.Records.Any(a => !a.Recovered) == true) failures.Add("after some attacks the attacked NIC did not serve a client again");
        if (_counters.ChurnProbesFailed > 0 || _counters.TapsLeft > 0) failures.Add($"NIC churn: {_counters.ChurnProbesFailed} added NICs did not serve, {_counters.TapsLeft} taps outlived their NIC");
        if (failures.Count == 0)
        {
            Log("soak passed: every transfer intact, the server lived and stayed flat");
            return 0;
        }
        foreach (var f in failures) Console.Error.WriteLine("SOAK FAILED: " + f);
        Log("soak FAILED: " + string.Join("; ", failures));
        return 1;
    }

    private void WriteReport(HostileClient? hostile, bool finished)
    {
        string text;
        lock (_samples)
        lock (_problems)
            text = SoakReport.Render(settings, _environment, _samples, hostile?.Records ?? [], _problems, _fatal, finished);
        if (settings.ReportPath is { } path) File.WriteAllText(path, text);
        if (finished) Console.WriteLine(text);
    }

    private void Log(string line)
    {
        var text = $"{DateTime.UtcNow:HH:mm:ss} {line}";
        Console.WriteLine(text);
        lock (this) _log?.WriteLine(text);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Describe(GuestImage image)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
        var os = File.Exists("/etc/os-release") ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') : null;
        return $"host: {Environment.ProcessorCount} CPUs ({cpu}), {os}; QEMU {image.QemuVersion} (rig root), guest kernel {image.KernelRelease}, TCG";
    }
}
