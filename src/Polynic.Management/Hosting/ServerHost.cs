using Microsoft.Extensions.Logging;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Core.Modules;
using Polynic.Management.Configuration;
using Polynic.Modules;
using Polynic.Ports.Capture;
using Polynic.Ports.Switching;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.Management.Hosting;

/// <summary>One served NIC (or other PCI function) with its port and vfio-user server.</summary>
public sealed record ServedFunction(string Name, string Personality, PciFunction Function, IPort? Port, VfioUserServer Server)
{
    /// <summary>The NIC core of the function, if it is a NIC.</summary>
    public NicDevice? Nic => Function.Device as NicDevice;
}

/// <summary>
/// Everything one Polynic process serves, built from a configuration: switches, capture,
/// ports, devices and their vfio-user sockets. Disposing it stops all of it: sockets removed,
/// taps deleted, threads ended, capture flushed.
/// </summary>
public sealed class ServerHost : IAsyncDisposable
{
    private readonly List<ServedFunction> _functions = [];
    private readonly Dictionary<string, L2Switch> _switches = new(StringComparer.Ordinal);
    private PcapngWriter? _capture;

    private ServerHost(PolynicConfiguration configuration) => Configuration = configuration;

    /// <summary>The configuration served.</summary>
    public PolynicConfiguration Configuration { get; }

    /// <summary>Served functions in configuration order.</summary>
    public IReadOnlyList<ServedFunction> Functions => _functions;

    /// <summary>The switches by name.</summary>
    public IReadOnlyDictionary<string, L2Switch> Switches => _switches;

    /// <summary>The capture file being written, if any.</summary>
    public string? CaptureFile => _capture?.Path;

    /// <summary>Run-time modules consulted for personalities the server does not have built in.</summary>
    public ModuleCatalog? Modules { get; private init; }

    /// <summary>Builds and starts everything; on any failure, stops what was started and rethrows.</summary>
    /// <param name="configuration">What to serve.</param>
    /// <param name="loggers">Where logs go.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <param name="modules">Personality modules loaded at run time (compiled or source), consulted after the built-in personalities.</param>
    public static async Task<ServerHost> StartAsync(PolynicConfiguration configuration, ILoggerFactory loggers, CancellationToken cancellationToken = default, ModuleCatalog? modules = null)
    {
        var host = new ServerHost(configuration) { Modules = modules };
        try
        {
            if (configuration.Capture is { } c)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(c.File)!);
                host._capture = new PcapngWriter(c.File, new PcapngWriterOptions { MaxFileBytes = c.MaxBytes, KeepFiles = c.Files });
            }
            foreach (var s in configuration.Switches)
                host._switches.Add(s.Name, new L2Switch(s.Name, new L2SwitchOptions { MacAgingTime = s.Aging, MaxFrameLength = 9018 + 4 }));
            foreach (var nic in configuration.Nics)
                host._functions.Add(await StartFunctionAsync(nic, host, loggers, cancellationToken));
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    private static async Task<ServedFunction> StartFunctionAsync(NicConfiguration nic, ServerHost host, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var settings = new NicSettings(nic.Mac);
        var device = host.Modules is { } m && !PersonalityCatalog.Names.Contains(nic.Personality, StringComparer.OrdinalIgnoreCase) && m.TryGetFactory(nic.Personality, out _)
            ? m.Create(nic.Personality, new PersonalitySettings(settings, nic.Revision is { } r ? [new("revision", r.ToString(System.Globalization.CultureInfo.InvariantCulture))] : null))
            : PersonalityCatalog.Create(nic.Personality, settings, nic.Revision);
        var function = new PciFunction(device, nic.Name, loggers);
        var port = PortFactory.Create(nic, host._switches, host._capture, host.Configuration.Capture?.SnapLength ?? PcapngWriter.MaxSnapLength, loggers);
        try
        {
            if (port is not null)
            {
                if (device is NicDevice n) n.AttachPort(port);
                else throw new InvalidOperationException($"NIC '{nic.Name}': personality '{nic.Personality}' is not a NIC and cannot take a port");
            }
            var directory = Path.GetDirectoryName(nic.Socket);
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            var server = new VfioUserServer(function, nic.Socket, loggerFactory: loggers);
            await server.StartAsync(cancellationToken);
            return new ServedFunction(nic.Name, nic.Personality, function, port, server);
        }
        catch
        {
            port?.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (var f in _functions) await f.Server.DisposeAsync();
        foreach (var f in _functions) f.Port?.Dispose();
        _functions.Clear();
        foreach (var s in _switches.Values) s.Dispose();
        _switches.Clear();
        _capture?.Dispose();
        _capture = null;
    }
}
