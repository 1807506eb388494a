using Microsoft.Extensions.Logging;
using Polynic.Core.Pci;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.Cli.Serving;

/// <summary>
/// Serves a set of devices, one vfio-user socket each, in this process, and stops them all
/// together: sockets removed, threads ended, nothing left running.
/// </summary>
internal sealed class DeviceHost : IAsyncDisposable
{
    private readonly List<VfioUserServer> _servers = [];

    private DeviceHost() { }

    public IReadOnlyList<VfioUserServer> Servers => _servers;

    public static async Task<DeviceHost> StartAsync(IEnumerable<DeviceSpec> specs, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var host = new DeviceHost();
        try
        {
            int index = 0;
            foreach (var spec in specs)
            {
                var name = spec.Settings.TryGetValue("name", out var n) ? n : $"{spec.Kind}{index}";
                var function = new PciFunction(PersonalityCatalog.Create(spec), name, loggerFactory);
                Directory.CreateDirectory(Path.GetDirectoryName(spec.SocketPath)!);
                var server = new VfioUserServer(function, spec.SocketPath, loggerFactory: loggerFactory);
                await server.StartAsync(cancellationToken);
                host._servers.Add(server);
                index++;
            }
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers) await server.DisposeAsync();
        _servers.Clear();
    }
}
