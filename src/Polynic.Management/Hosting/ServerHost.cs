using Microsoft.Extensions.Logging;
using Polynic.Core.Modules;
using Polynic.Core.Nic;
using Polynic.Core.Pci;
using Polynic.Management.Configuration;
using Polynic.Modules;
using Polynic.Ports.Capture;
using Polynic.Ports.Switching;
using Polynic.Transport.VfioUser.Server;

namespace Polynic.Management.Hosting;

/// <summary>One served NIC (or other PCI function) with its port and vfio-user server.</summary>
/// <param name="Name">The NIC's name in the configuration.</param>
/// <param name="Personality">The personality it was created as.</param>
/// <param name="Module">The module that provided the personality.</param>
/// <param name="Function">The PCI function presented to the VMM.</param>
/// <param name="Port">Where its frames go, as configured (the port and its decorators); null for a function that is not a NIC.</param>
/// <param name="Server">The vfio-user server on its socket.</param>
/// <param name="Captures">
/// Where captures started at run time attach (the HTTP API's): the NIC's side of <paramref name="Port"/>,
/// so they record what the NIC sent and saw; null when there is no port.
/// </param>
public sealed record ServedFunction(string Name, string Personality, string Module, PciFunction Function, IPort? Port, VfioUserServer Server,
    CapturePoint? Captures = null)
{
    /// <summary>The NIC core of the function, if it is a NIC.</summary>
    public NicDevice? Nic => Function.Device as NicDevice;

    /// <summary>Null while the device works; why it was taken out of service otherwise (it threw, or reported a failure).</summary>
    public string? FailureReason => Function.FailureReason;

    /// <summary>Whether the guest is offered MSI-X (the personality declares it and the NIC was not served with <c>msix=off</c>).</summary>
    public bool OffersMsix => Function.Definition.Msix is not null;
}

/// <summary>A configured NIC that could not be started, and why; the server serves the others.</summary>
/// <param name="Name">The NIC's name.</param>
/// <param name="Personality">The personality asked for.</param>
/// <param name="Reason">What went wrong (unknown personality, a module that failed or threw, a port that would not open).</param>
public sealed record FailedNic(string Name, string Personality, string Reason);

/// <summary>
/// Everything one Polynic process serves: switches, capture, ports, devices and their vfio-user
/// sockets, built from a configuration and changed at run time (NICs added and removed, modules
/// loaded and unloaded). Personalities come only from the module catalog: the server has no
/// compile-time reference to any of them. Disposing it stops all of it: sockets removed, taps
/// deleted, threads ended, capture flushed.
/// </summary>
/// <remarks>
/// Thread-safe: management operations may arrive from several control connections at once; they
/// are serialised. A NIC that fails to start (its module is missing, failed to load, or threw)
/// is kept in <see cref="FailedNics"/> with its reason and costs the other NICs nothing.
/// </remarks>
public sealed class ServerHost : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<ServedFunction> _functions = [];
    private readonly List<FailedNic> _failed = [];
    private readonly Dictionary<string, L2Switch> _switches = new(StringComparer.Ordinal);
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private PcapngWriter? _capture;
    private bool _disposed;
    private readonly Dictionary<ServedFunction, ObservedState> _observed = [];
    private ITimer? _watcher;

    /// <summary>How often the state events (VMM connected, link, failure) are looked for.</summary>
    public static readonly TimeSpan StateWatchInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>What changed in the server: NICs added, removed or failed, VMMs coming and going, links, modules, captures.</summary>
    public ServerEvents Events { get; } = new();

    private ServerHost(PolynicConfiguration configuration, ModuleCatalog modules, ILoggerFactory loggers)
    {
        Configuration = configuration;
        Modules = modules;
        _loggers = loggers;
        _log = loggers.CreateLogger("Polynic.Server");
        Metrics = new ServerMetrics(this);
    }

    /// <summary>The configuration the server started with.</summary>
    public PolynicConfiguration Configuration { get; }

    /// <summary>The personality modules this server creates devices from.</summary>
    public ModuleCatalog Modules { get; }

    /// <summary>A snapshot of the served functions, in the order they were added.</summary>
    public IReadOnlyList<ServedFunction> Functions
    {
        get { lock (_functions) return _functions.ToArray(); }
    }

    /// <summary>A snapshot of the configured NICs that could not be started.</summary>
    public IReadOnlyList<FailedNic> FailedNics
    {
        get { lock (_functions) return _failed.ToArray(); }
    }

    /// <summary>The switches by name.</summary>
    public IReadOnlyDictionary<string, L2Switch> Switches
    {
        get { lock (_switches) return new Dictionary<string, L2Switch>(_switches, StringComparer.Ordinal); }
    }

    /// <summary>The server's counters as metrics instruments (meter "Polynic"), read when collected; ended when the host is disposed.</summary>
    public ServerMetrics Metrics { get; }

    /// <summary>The capture file being written, if any.</summary>
    public string? CaptureFile => _capture?.Path;

    /// <summary>
    /// Builds and starts everything. A NIC that cannot be started is recorded in
    /// <see cref="FailedNics"/> (and logged) while the others are served.
    /// </summary>
    /// <param name="configuration">What to serve.</param>
    /// <param name="modules">Where personalities come from (compiled, source and descriptor modules).</param>
    /// <param name="loggers">Where logs go.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <exception cref="IOException">
    /// The capture file cannot be created, or its directory or name is not safe from other local
    /// users (<see cref="Polynic.Native.UnsafePathException"/>, naming the problem); nothing is left running.
    /// </exception>
    public static async Task<ServerHost> StartAsync(PolynicConfiguration configuration, ModuleCatalog modules, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(modules);
        var host = new ServerHost(configuration, modules, loggers);
        try
        {
            if (configuration.Capture is { } c)
            {
                // The writer creates the directory 0700 if missing and refuses one another user could change.
                host._capture = new PcapngWriter(c.File, new PcapngWriterOptions
                {
                    MaxFileBytes = c.MaxBytes,
                    KeepFiles = c.Files,
                    Log = loggers.CreateLogger("Polynic.Capture"),
                });
            }
            foreach (var s in configuration.Switches)
                host._switches.Add(s.Name, NewSwitch(s));
            foreach (var nic in configuration.Nics)
            {
                try
                {
                    await host.AddNicAsync(nic, cancellationToken);
                }
                catch (NicStartException e)
                {
                    lock (host._functions) host._failed.Add(new FailedNic(nic.Name, nic.Personality, e.Message));
                    host._log.LogError("NIC {Nic} not served: {Reason}", nic.Name, e.Message);
                }
            }
            host._watcher = TimeProvider.System.CreateTimer(static h => ((ServerHost)h!).WatchState(), host, StateWatchInterval, StateWatchInterval);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Creates a NIC from a loaded module's personality, attaches its port and starts serving it
    /// on its socket. Used at start-up and by the management interface while the server runs.
    /// </summary>
    /// <param name="nic">The NIC: personality, socket, MAC, options, port.</param>
    /// <param name="cancellationToken">Cancels start-up of this NIC.</param>
    /// <returns>The served function.</returns>
    /// <exception cref="NicStartException">
    /// The NIC could not be started: its name, socket, MAC or tap is already in use, its
    /// personality is unknown, its module refused the options or threw, or its port or socket
    /// would not open. Nothing of it is left running; the message says which.
    /// </exception>
    public async Task<ServedFunction> AddNicAsync(NicConfiguration nic, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nic);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CheckUnused(nic);
            var served = await StartFunctionAsync(nic, cancellationToken);
            lock (_functions)
            {
                _functions.Add(served);
                _failed.RemoveAll(f => f.Name == nic.Name);
            }
            _log.LogInformation("Serving NIC {Nic} ({Personality} from module {Module}) on {Socket}", nic.Name, nic.Personality, served.Module, nic.Socket);
            Events.Publish(new ServerEvent(ServerEventTypes.NicAdded, DateTimeOffset.UtcNow, Nic: nic.Name, Module: served.Module, Detail: nic.Personality));
            return served;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops serving NIC <paramref name="name"/>: its vfio-user socket is closed (a connected VMM
    /// sees the device gone; detach it there first with <c>device_del</c>), its port closed,
    /// and the device dropped, so its module can be unloaded.
    /// </summary>
    /// <param name="name">The NIC's name.</param>
    /// <exception cref="KeyNotFoundException">No NIC of that name; the message lists those served.</exception>
    public async Task RemoveNicAsync(string name)
    {
        await _gate.WaitAsync();
        try
        {
            ServedFunction? function;
            lock (_functions)
            {
                function = _functions.FirstOrDefault(f => f.Name == name);
                if (function is null)
                {
                    if (_failed.RemoveAll(f => f.Name == name) > 0) return;
                    throw new KeyNotFoundException($"no NIC named '{name}'; serving: {string.Join(", ", _functions.Select(f => f.Name))}");
                }
                _functions.Remove(function);
            }
            // Forget it at once, not at the next look: its module's load context must become collectable.
            lock (_observed) _observed.Remove(function);
            await StopAsync(function);
            _log.LogInformation("NIC {Nic} removed", name);
            Events.Publish(new ServerEvent(ServerEventTypes.NicRemoved, DateTimeOffset.UtcNow, Nic: name));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Unloads module <paramref name="name"/> if no served NIC was created from it.
    /// </summary>
    /// <param name="name">The module's name.</param>
    /// <returns>A weak reference to the module's load context; see <see cref="ModuleCatalog.Unload"/>.</returns>
    /// <exception cref="InvalidOperationException">NICs created from the module are still served; the message names them.</exception>
    /// <exception cref="KeyNotFoundException">No such module.</exception>
    public async Task<WeakReference> UnloadModuleAsync(string name)
    {
        await _gate.WaitAsync();
        try
        {
            string[] users;
            lock (_functions) users = _functions.Where(f => f.Module == name).Select(f => f.Name).ToArray();
            if (users.Length > 0)
                throw new InvalidOperationException($"module '{name}' still provides NIC(s) {string.Join(", ", users)}; remove them first");
            var context = Modules.Unload(name);
            Events.Publish(new ServerEvent(ServerEventTypes.ModuleUnloaded, DateTimeOffset.UtcNow, Module: name));
            return context;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Publishes the changes no management call makes — a VMM connecting or leaving, the link the
    /// guest sees, a device taken out of service — by comparing each NIC's state with the last look.
    /// Polled rather than called back from the device's threads, which must never wait for a reader.
    /// </summary>
    private void WatchState()
    {
        try { PublishStateChanges(); }
        catch (Exception e) { _log.LogError(e, "Watching the NICs' state failed; state events may be missing"); }
    }

    private void PublishStateChanges()
    {
        var now = DateTimeOffset.UtcNow;
        lock (_observed)
        {
            // Read under this lock: a NIC removed meanwhile (RemoveNicAsync forgets it under it too) is not brought back.
            ServedFunction[] functions;
            lock (_functions) functions = _functions.ToArray();
            foreach (var f in functions)
            {
                var state = new ObservedState(f.Server.IsClientConnected, f.Nic?.PortLinkUp ?? false, f.FailureReason);
                if (!_observed.TryGetValue(f, out var was))
                {
                    _observed[f] = state;
                    continue;
                }
                _observed[f] = state;
                if (state.Connected != was.Connected)
                    Events.Publish(new ServerEvent(state.Connected ? ServerEventTypes.VmmConnected : ServerEventTypes.VmmDisconnected, now, Nic: f.Name));
                if (state.LinkUp != was.LinkUp)
                    Events.Publish(new ServerEvent(ServerEventTypes.LinkChanged, now, Nic: f.Name, Detail: state.LinkUp ? "up" : "down"));
                if (state.Failure is not null && was.Failure is null)
                    Events.Publish(new ServerEvent(ServerEventTypes.NicFailed, now, Nic: f.Name, Detail: state.Failure));
            }
            foreach (var gone in _observed.Keys.Except(functions).ToArray()) _observed.Remove(gone);
        }
    }

    private readonly record struct ObservedState(bool Connected, bool LinkUp, string? Failure);

    private static L2Switch NewSwitch(SwitchConfiguration s) => new(s.Name, new L2SwitchOptions { MacAgingTime = s.Aging, MaxFrameLength = 9018 + 4 });

    private void CheckUnused(NicConfiguration nic)
    {
        lock (_functions)
        {
            foreach (var f in _functions)
            {
                if (f.Name == nic.Name) throw new NicStartException($"NIC '{nic.Name}' is already served (on {f.Server.SocketPath})");
                if (f.Server.SocketPath == nic.Socket) throw new NicStartException($"NIC '{nic.Name}': socket {nic.Socket} is already used by NIC '{f.Name}'");
                if (f.Nic is { } n && n.Settings.Mac == nic.Mac) throw new NicStartException($"NIC '{nic.Name}': MAC {nic.Mac} is already used by NIC '{f.Name}'");
            }
        }
    }

    private async Task<ServedFunction> StartFunctionAsync(NicConfiguration nic, CancellationToken cancellationToken)
    {
        IPciDevice device;
        string module;
        try
        {
            device = Modules.Create(nic.Personality, new PersonalitySettings(new NicSettings(nic.Mac), nic.Options), out module);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException or InvalidOperationException)
        {
            throw new NicStartException($"NIC '{nic.Name}': {e.Message}", e);
        }
        IPort? port = null;
        CapturePoint? captures = null;
        try
        {
            var function = new PciFunction(device, nic.Name, _loggers, nic.OfferMsix);
            // A switch named only by a NIC added at run time (no configuration file) is made on first use.
            if (nic.Port is SwitchPortConfiguration { Switch: var name } && !_switches.ContainsKey(name))
            {
                lock (_switches) _switches.Add(name, NewSwitch(new SwitchConfiguration(name, DeviceSpec.DefaultSwitchAging)));
                _log.LogInformation("Switch {Switch} created for NIC {Nic}", name, nic.Name);
            }
            port = PortFactory.Create(nic, _switches, _capture, Configuration.Capture?.SnapLength ?? PcapngWriter.MaxSnapLength, _loggers);
            if (port is not null)
            {
                if (device is not NicDevice n) throw new InvalidOperationException($"personality '{nic.Personality}' is not a NIC and cannot take a port");
                // The point does not own the stack: the stack is disposed as ServedFunction.Port.
                captures = new CapturePoint(port, ownsInner: false);
                n.AttachPort(captures);
            }
            var directory = Path.GetDirectoryName(nic.Socket);
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            var server = new VfioUserServer(function, nic.Socket, new VfioUserServerOptions { BusyPoll = Configuration.BusyPoll ?? DefaultBusyPoll }, loggerFactory: _loggers);
            await server.StartAsync(cancellationToken);
            if (function.Definition.Msix is not null)
                _log.LogInformation("NIC {Nic} offers MSI-X: {Warning}", nic.Name, HotUnplug.MsixWarning);
            return new ServedFunction(nic.Name, nic.Personality, module, function, port, server, captures);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            captures?.Dispose();
            port?.Dispose();
            throw new NicStartException($"NIC '{nic.Name}': {e.Message}", e);
        }
        catch
        {
            captures?.Dispose();
            port?.Dispose();
            throw;
        }
    }

    private async Task StopAsync(ServedFunction function)
    {
        await function.Server.DisposeAsync();
        function.Captures?.Dispose();
        function.Port?.Dispose();
        (function.Function.Device as IDisposable)?.Dispose();
        // What the NIC did over its life, so a user (or a benchmark) sees drops without a metrics scrape.
        if (function.Nic is { } nic)
            _log.LogInformation("NIC {Nic} stopped; counters: {Counters}", function.Name,
                string.Join(' ', nic.Counters.Snapshot().Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));
    }

    /// <summary>
    /// The sessions' busy-poll when the configuration names none: enough to take the server's
    /// wake-up out of a register read that crosses vCPUs (113 to 38 us measured), short enough
    /// that a client pausing between bursts costs little CPU. Measured in docs/benchmarks.md
    /// ("Register round trips"): a guest's register read about halves, e1000 guest->host gains.
    /// </summary>
    public static readonly TimeSpan DefaultBusyPoll = TimeSpan.FromMicroseconds(50);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _watcher?.Dispose();
            Metrics.Dispose();
            ServedFunction[] functions;
            lock (_functions)
            {
                functions = _functions.ToArray();
                _functions.Clear();
            }
            foreach (var f in functions) await StopAsync(f);
            lock (_switches)
            {
                foreach (var s in _switches.Values) s.Dispose();
                _switches.Clear();
            }
            _capture?.Dispose();
            _capture = null;
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>A NIC could not be started; the message names it and the reason. Nothing of it is left running.</summary>
public sealed class NicStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the NIC and the problem.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public NicStartException(string message, Exception? inner = null) : base(message, inner) { }
}
