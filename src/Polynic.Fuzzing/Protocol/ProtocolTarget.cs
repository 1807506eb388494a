using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Management.Configuration;
using Polynic.Management.Hosting;
using Polynic.Modules;

namespace Polynic.Fuzzing.Protocol;

/// <summary>
/// What the protocol fuzzer attacks when not pointed at a running server: the server
/// <c>polynic serve</c> runs (<see cref="ServerHost"/>), in this process, serving one NIC of each
/// personality asked for, all on one L2 switch so the frames one fuzzed NIC sends reach the others
/// on their port threads, plus an e1000 the sentinel uses that no attacker touches.
/// </summary>
public sealed class ProtocolTarget : IAsyncDisposable
{
    private readonly ServerHost _host;
    private readonly string _directory;

    private ProtocolTarget(ServerHost host, string directory, IReadOnlyList<string> sockets, string sentinel)
    {
        _host = host;
        _directory = directory;
        Sockets = sockets;
        SentinelSocket = sentinel;
    }

    /// <summary>Sockets of the NICs to fuzz.</summary>
    public IReadOnlyList<string> Sockets { get; }

    /// <summary>Socket of the sentinel's NIC.</summary>
    public string SentinelSocket { get; }

    /// <summary>Descriptors the process has open now (to compare before and after a campaign).</summary>
    public static int OpenDescriptors() => Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();

    /// <summary>
    /// Serves <paramref name="personalities"/> from <paramref name="modules"/> on sockets in a fresh
    /// private directory.
    /// </summary>
    /// <exception cref="InvalidOperationException">A personality could not be served (the reason is given).</exception>
    public static async Task<ProtocolTarget> StartAsync(ModuleCatalog modules, IReadOnlyList<string> personalities, ILoggerFactory loggers)
    {
        string directory = Directory.CreateTempSubdirectory("polynic-protocol-fuzz-").FullName;
        var port = new SwitchPortConfiguration("fuzz", 1, null);
        var nics = personalities.Select((p, i) => Nic($"fuzz{i}-{p}", p, Path.Combine(directory, $"{i}.sock"), i, port)).ToList();
        var sentinel = Nic("sentinel", "e1000", Path.Combine(directory, "sentinel.sock"), nics.Count, port);
        var configuration = new PolynicConfiguration("protocol fuzzer", null, [new SwitchConfiguration("fuzz", TimeSpan.FromMinutes(5))], [.. nics, sentinel]);
        var host = await ServerHost.StartAsync(configuration, modules, loggers);
        if (host.FailedNics.Count > 0)
        {
            await host.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw new InvalidOperationException(string.Join("; ", host.FailedNics.Select(f => $"{f.Personality}: {f.Reason}")));
        }
        return new ProtocolTarget(host, directory, nics.Select(n => n.Socket).ToList(), sentinel.Socket);
    }

    /// <summary>Stops every NIC and removes the sockets' directory.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static NicConfiguration Nic(string name, string personality, string socket, int index, PortConfiguration port) =>
        new(name, personality, socket, NicSettings.ForIndex(index).Mac, [], port, null, 0);
}
